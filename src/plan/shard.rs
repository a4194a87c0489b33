//! `--shard K/N`: a deterministic 1/N of the tests, by file, so a CI matrix of
//! N jobs covers the suite exactly once.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based.
    pub index: u64,
    pub count: u64,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let usage = || format!("'{text}' is not K/N with 1 <= K <= N, e.g. 2/4");
        let (k, n) = text.split_once('/').ok_or_else(usage)?;
        let index: u64 = k.trim().parse().map_err(|_| usage())?;
        let count: u64 = n.trim().parse().map_err(|_| usage())?;
        if index == 0 || count == 0 || index > count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether the file at `path` (relative to the rootdir) belongs to this
    /// shard. It depends on the path alone, so adding tests elsewhere never
    /// moves a file to another shard.
    pub fn owns(&self, path: &str) -> bool {
        fnv1a(path.as_bytes()) % self.count == self.index - 1
    }
}

/// FNV-1a: stable across platforms and Rust versions, unlike std's hasher.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n_and_rejects_the_rest() {
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "2", "a/b", "1/0", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_file_is_in_exactly_one_shard_and_shards_are_balanced() {
        let files: Vec<String> = (0..400).map(|i| format!("tests/test_{i}.py")).collect();
        let count = 4;
        let mut sizes = vec![0; count as usize];
        for file in &files {
            let owners: Vec<u64> = (1..=count)
                .filter(|&k| Shard { index: k, count }.owns(file))
                .collect();
            assert_eq!(owners.len(), 1, "{file}");
            sizes[(owners[0] - 1) as usize] += 1;
        }
        assert!(sizes.iter().all(|&s| (70..=130).contains(&s)), "{sizes:?}");
    }
}
