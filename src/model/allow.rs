//! Allow-lists: leaks a team has accepted, per node-id pattern and signal,
//! each with a reason. Allowed leaks are still shown, as `allowed`, but do not
//! fail the run.

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::model::outcome::{TestReport, Verdict};
use crate::model::signal::Signal;

/// `{ test = "tests/test_cache.py::*", signals = ["objects"], reason = "…" }`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowEntry {
    /// A node id, where `*` matches any run of characters and `?` one.
    pub test: String,
    /// Which signals; `all` for every one. Default: all.
    #[serde(default = "every_signal")]
    pub signals: Vec<AllowedSignal>,
    /// Why this leak is accepted: required, so the next reader knows.
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum AllowedSignal {
    All,
    One(Signal),
}

impl TryFrom<String> for AllowedSignal {
    type Error = String;

    fn try_from(name: String) -> Result<AllowedSignal, String> {
        if name == "all" {
            return Ok(AllowedSignal::All);
        }
        Signal::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .map(AllowedSignal::One)
            .ok_or_else(|| {
                format!(
                    "unknown signal `{name}`: use objects, blocks, bytes, fds, threads, rss or all"
                )
            })
    }
}

impl From<AllowedSignal> for String {
    fn from(signal: AllowedSignal) -> String {
        match signal {
            AllowedSignal::All => "all".to_string(),
            AllowedSignal::One(signal) => signal.name().to_string(),
        }
    }
}

fn every_signal() -> Vec<AllowedSignal> {
    vec![AllowedSignal::All]
}

impl AllowEntry {
    fn pattern(&self) -> Regex {
        let mut regex = String::from("^");
        for c in self.test.chars() {
            match c {
                '*' => regex.push_str(".*"),
                '?' => regex.push('.'),
                other => regex.push_str(&regex::escape(&other.to_string())),
            }
        }
        regex.push('$');
        // Every character was escaped but the wildcards: this always compiles.
        Regex::new(&regex).unwrap_or_else(|_| Regex::new("^$").expect("empty pattern compiles"))
    }

    fn allows(&self, signal: Signal) -> bool {
        self.signals
            .iter()
            .any(|s| *s == AllowedSignal::All || *s == AllowedSignal::One(signal))
    }
}

/// The allow-list, patterns compiled once.
pub struct AllowList {
    entries: Vec<(Regex, AllowEntry)>,
}

impl AllowList {
    pub fn new(entries: &[AllowEntry]) -> AllowList {
        AllowList {
            entries: entries.iter().map(|e| (e.pattern(), e.clone())).collect(),
        }
    }

    /// Marks a leak whose every growing signal is allowed as `Allowed`, with
    /// the reasons; a leak with signals nobody allowed stays a leak on those.
    pub fn apply(&self, test: &mut TestReport) {
        if test.verdict != Verdict::Leaked {
            return;
        }
        let matching: Vec<&AllowEntry> = self
            .entries
            .iter()
            .filter(|(pattern, _)| pattern.is_match(&test.item.nodeid))
            .map(|(_, entry)| entry)
            .collect();
        if matching.is_empty() {
            return;
        }
        let unallowed: Vec<_> = test
            .growth
            .iter()
            .filter(|g| !matching.iter().any(|e| e.allows(g.signal)))
            .cloned()
            .collect();
        if unallowed.is_empty() {
            test.verdict = Verdict::Allowed;
            let reasons: Vec<&str> = matching.iter().map(|e| e.reason.as_str()).collect();
            test.allowed = Some(reasons.join("; "));
        } else {
            test.growth = unallowed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaked(nodeid: &str, signals: &[Signal]) -> TestReport {
        let growth: Vec<(Signal, f64)> = signals.iter().map(|&s| (s, 1.0)).collect();
        TestReport::example(nodeid, Verdict::Leaked, &growth)
    }

    #[test]
    fn entries_allow_matching_tests_and_signals_only() {
        let entries: Vec<AllowEntry> = toml::from_str::<toml::Table>(
            r#"
            allow = [
              { test = "tests/test_cache.py::*", signals = ["objects", "bytes"], reason = "warms a 10k LRU" },
              { test = "tests/test_pool.py::test_?", reason = "pool grows" },
            ]"#,
        )
        .unwrap()["allow"]
            .clone()
            .try_into()
            .unwrap();
        let mut tests = vec![
            leaked(
                "tests/test_cache.py::test_fill",
                &[Signal::Objects, Signal::Bytes],
            ),
            leaked(
                "tests/test_cache.py::test_fd",
                &[Signal::Objects, Signal::Fds],
            ),
            leaked("tests/test_pool.py::test_a", &[Signal::Threads]),
            leaked("tests/test_pool.py::test_ab", &[Signal::Threads]),
        ];
        let list = AllowList::new(&entries);
        for test in &mut tests {
            list.apply(test);
        }
        let verdicts: Vec<Verdict> = tests.iter().map(|t| t.verdict).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Allowed,
                Verdict::Leaked,
                Verdict::Allowed,
                Verdict::Leaked
            ]
        );
        assert_eq!(tests[0].allowed.as_deref(), Some("warms a 10k LRU"));
        let still: Vec<Signal> = tests[1].growth.iter().map(|g| g.signal).collect();
        assert_eq!(still, [Signal::Fds]);
    }

    #[test]
    fn unknown_signal_and_missing_reason_are_errors() {
        let bad: Result<AllowEntry, _> =
            toml::from_str("test = \"x\"\nsignals = [\"memory\"]\nreason = \"r\"\n");
        assert!(bad
            .unwrap_err()
            .message()
            .contains("unknown signal `memory`"));
        let bad: Result<AllowEntry, _> = toml::from_str(r#"test = "x""#);
        assert!(bad
            .unwrap_err()
            .message()
            .contains("missing field `reason`"));
    }
}
