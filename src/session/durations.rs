//! How long each test took the last time it ran, remembered between sessions
//! so that an idle worker takes about half of the work a busy one has left
//! (`-n 2` and more). Kept in the
//! user's cache folder, not in the project: leakhunt writes nothing into the
//! tree it checks. Losing it costs only speed, so a missing, unreadable or
//! unwritable memory is an empty one.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::model::outcome::TestItem;
use crate::plan::shard::fnv1a;

/// Seconds each test (by node id) took last time, for one rootdir.
#[derive(Debug, Default)]
pub struct Durations {
    seconds: BTreeMap<String, f64>,
    /// Where it is kept; None when no cache folder can be found.
    path: Option<PathBuf>,
}

/// `$LEAKHUNT_CACHE_DIR`, else `$XDG_CACHE_HOME/leakhunt`, else
/// `~/.cache/leakhunt`.
fn cache_dir() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty("LEAKHUNT_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = non_empty("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("leakhunt"));
    }
    non_empty("HOME").map(|home| PathBuf::from(home).join(".cache").join("leakhunt"))
}

impl Durations {
    /// The memory of the tests under `rootdir`, or an empty one.
    pub fn load(rootdir: &Path) -> Durations {
        Durations::load_from(cache_dir(), rootdir)
    }

    fn load_from(cache: Option<PathBuf>, rootdir: &Path) -> Durations {
        let key = fnv1a(rootdir.as_os_str().as_encoded_bytes());
        let path = cache.map(|dir| dir.join(format!("durations-{key:016x}.json")));
        let seconds = path
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Durations { seconds, path }
    }

    /// The expected cost of each test of `tests`, by collection index: its
    /// remembered duration; for a test not seen before, the median of the
    /// remembered ones (1 when none is), so that on a first run a file
    /// costs as many tests as it holds.
    pub fn estimate(&self, tests: &[TestItem]) -> Vec<f64> {
        let mut seen: Vec<f64> = self.seconds.values().copied().collect();
        seen.sort_by(f64::total_cmp);
        let typical = seen.get(seen.len() / 2).copied().unwrap_or(1.0);
        tests
            .iter()
            .map(|t| self.seconds.get(&t.nodeid).copied().unwrap_or(typical))
            .collect()
    }

    pub fn record(&mut self, nodeid: &str, seconds: f64) {
        if seconds.is_finite() && seconds >= 0.0 {
            self.seconds.insert(nodeid.to_string(), seconds);
        }
    }

    /// Writes the memory back (whole, through a temporary file, so that two
    /// sessions at once leave one of their versions, never a torn one).
    pub fn save(&self) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the cache folder {}", dir.display()))?;
        let mut file = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("cannot write in the cache folder {}", dir.display()))?;
        // Whole, in one write: serde_json writes each token by itself (six
        // system calls a test, 39,000 for idna's suite).
        let text = serde_json::to_vec(&self.seconds).context("encoding test durations")?;
        file.write_all(&text).context("writing test durations")?;
        file.persist(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(nodeid: &str) -> TestItem {
        TestItem {
            nodeid: nodeid.to_string(),
            path: nodeid.split("::").next().unwrap_or(nodeid).to_string(),
            line: 1,
            name: nodeid.to_string(),
            classname: String::new(),
            keywords: Vec::new(),
        }
    }

    #[test]
    fn unknown_tests_cost_the_median_of_the_known_ones() {
        let mut memory = Durations::default();
        assert_eq!(memory.estimate(&[item("a.py::t")]), [1.0]);
        memory.record("a.py::slow", 9.0);
        memory.record("a.py::quick", 0.5);
        memory.record("a.py::mid", 2.0);
        let tests = [item("a.py::quick"), item("b.py::new"), item("a.py::slow")];
        assert_eq!(memory.estimate(&tests), [0.5, 2.0, 9.0]);
    }

    #[test]
    fn a_saved_memory_is_loaded_again_for_the_same_rootdir_only() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Some(dir.path().join("cache"));
        let (root, other) = (Path::new("/project"), Path::new("/elsewhere"));
        let tests = [item("a.py::t"), item("a.py::u")];
        let mut memory = Durations::load_from(cache.clone(), root);
        assert_eq!(memory.estimate(&tests), [1.0, 1.0]);
        memory.record("a.py::t", 3.5);
        memory.record("a.py::u", f64::NAN);
        memory.save().unwrap();
        let again = Durations::load_from(cache.clone(), root);
        assert_eq!(again.estimate(&tests), [3.5, 3.5]);
        assert_eq!(again.seconds.len(), 1);
        let unrelated = Durations::load_from(cache, other);
        assert_eq!(unrelated.estimate(&tests), [1.0, 1.0]);
    }
}
