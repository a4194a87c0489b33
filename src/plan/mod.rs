//! Which tests run: discovery, `-k`, `--changed`, shards. Pure: no processes.

pub mod changed;
pub mod discovery;
pub mod keyword;
pub mod selection;
pub mod shard;
