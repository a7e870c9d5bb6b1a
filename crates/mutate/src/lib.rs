//! Bounded, deterministic robustness tests of file readers ("fuzzing" that fits in
//! `cargo test`).
//!
//! A campaign starts from real, valid files, applies a few random [`Mutation`]s per case
//! (truncation, bit flips, inserted/deleted/duplicated runs, length fields set to extreme
//! values, plus format-aware edits supplied by the caller) and feeds the result to a reader.
//! Every case is reproducible from the campaign seed and its index. The reader must return
//! `Ok` or a typed error: a panic, an unbounded allocation (measured by
//! [`CountingAllocator`]) or an `Ok` value that breaks the caller's invariants fails the
//! campaign with the case's seed, index, base file and mutation list.

pub mod counting_alloc;
pub mod harness;
pub mod mutation;

pub use counting_alloc::CountingAllocator;
pub use harness::{run_campaign, Campaign, CampaignReport, Verdict};
pub use mutation::{random_mutation, random_mutations, Mutation, INTERESTING_U16, INTERESTING_U32};
