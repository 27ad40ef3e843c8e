//! What operators run against a store, as library calls (the `privdata`
//! commands are their command line): each checks before it changes
//! anything, and refuses what would lose data.

pub mod check;
pub mod migrate;
pub mod orphans;
pub mod rename;
pub mod transfer;
pub mod usage;
