//! The short mode of the fuzz target (`fuzz/`, run with cargo fuzz for the
//! long mode): the same checks over the seed corpus and many inputs mutated
//! from it. `PRIVDATA_FUZZ_INPUTS` sets how many (default 20,000).

use conformance::Rng;

#[test]
fn validation_holds_its_invariants_on_mutated_inputs() {
    let corpus_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/validation");
    let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(corpus_dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert!(corpus.len() >= 4, "the seed corpus is missing");
    let n: u64 = std::env::var("PRIVDATA_FUZZ_INPUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let interesting = [
        &b"-"[..],
        b"{",
        b"}",
        b"urn:uuid:",
        b"\n",
        b"=",
        b"\xff",
        "é".as_bytes(),
        b"\0",
        b"[",
        b"]",
        b"\"",
    ];
    let mut rng = Rng::new(42);
    for seed in &corpus {
        privdata_fuzzing::validation(seed);
    }
    for _ in 0..n {
        let mut input = corpus[rng.below(corpus.len() as u64) as usize].clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(input.len() as u64 + 1) as usize;
            match rng.below(4) {
                0 if !input.is_empty() => {
                    input.remove(at.min(input.len() - 1));
                }
                1 => input.insert(at, rng.next_u64() as u8),
                2 => {
                    let piece = interesting[rng.below(interesting.len() as u64) as usize];
                    input.splice(at..at, piece.iter().copied());
                }
                _ if !input.is_empty() => {
                    let i = at.min(input.len() - 1);
                    input[i] ^= 1 << rng.below(8);
                }
                _ => {}
            }
        }
        privdata_fuzzing::validation(&input);
        if rng.below(50) == 0 {
            corpus.push(input);
        }
    }
}
