#![no_main]
//! Entity ids, keys, details and the configuration file, on any input.

libfuzzer_sys::fuzz_target!(|data: &[u8]| privdata_fuzzing::validation(data));
