//! The baseline: leaks a suite already had when the gate was turned on. With
//! it, only new leaks (or known ones that grew beyond a tolerance) fail; known
//! leaks that stopped are reported as fixed. The file is sorted and rounded
//! so that it diffs well in review.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};

use crate::model::exit::UsageError;
use crate::model::outcome::{TestReport, Verdict};
use crate::model::signal::Signal;
use crate::report::atomic::write_atomically;

const SCHEMA: &str = "leakhunt-baseline/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub schema: String,
    pub leaks: Vec<Entry>,
}

/// One known leak: a test, a signal, how much it grew per run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub test: String,
    pub signal: Signal,
    pub per_run: f64,
}

impl Baseline {
    fn new(mut leaks: Vec<Entry>) -> Baseline {
        for entry in &mut leaks {
            // Two decimals: enough to compare, few enough to keep diffs quiet.
            entry.per_run = (entry.per_run * 100.0).round() / 100.0;
        }
        leaks.sort_by(|a, b| (&a.test, a.signal).cmp(&(&b.test, b.signal)));
        leaks.dedup_by(|later, kept| {
            let same = later.test == kept.test && later.signal == kept.signal;
            if same {
                kept.per_run = kept.per_run.max(later.per_run);
            }
            same
        });
        Baseline {
            schema: SCHEMA.to_string(),
            leaks,
        }
    }

    /// A baseline of these leaks (see `leaks_of`).
    pub fn from_entries(leaks: Vec<Entry>) -> Baseline {
        Baseline::new(leaks)
    }

    /// One baseline from several (the `--shard` jobs of one suite).
    pub fn merge(parts: Vec<Baseline>) -> Baseline {
        Baseline::new(parts.into_iter().flat_map(|b| b.leaks).collect())
    }

    pub fn read(path: &Path) -> Result<Baseline> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the baseline {}", path.display()))?;
        let baseline: Baseline = serde_json::from_str(&text).map_err(|e| {
            anyhow!(
                "{}:{}: not a leakhunt baseline: {e}; write one with --write-baseline",
                path.display(),
                e.line()
            )
        })?;
        if baseline.schema != SCHEMA {
            return Err(anyhow!(
                "{}: baseline schema {:?} is not {SCHEMA:?}; write it again with --write-baseline",
                path.display(),
                baseline.schema
            ));
        }
        Ok(baseline)
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self).context("encoding the baseline")?;
        text.push('\n');
        write_atomically(path, text.as_bytes(), "baseline")
    }
}

/// `--merge-baselines A B --write-baseline OUT`: one baseline from several
/// (of `--shard` jobs).
pub fn merge_files(inputs: &[PathBuf], output: &Path) -> Result<()> {
    let parts = inputs
        .iter()
        .map(|path| Baseline::read(path).map_err(UsageError::wrap))
        .collect::<Result<Vec<_>>>()?;
    let merged = Baseline::merge(parts);
    merged.write(output)?;
    println!(
        "merged {} baselines: {} leaks in {}",
        inputs.len(),
        merged.leaks.len(),
        output.display()
    );
    Ok(())
}

/// The leaks of one test that would fail the run: what a baseline records.
pub fn leaks_of(test: &TestReport) -> Vec<Entry> {
    if test.verdict != Verdict::Leaked {
        return Vec::new();
    }
    test.growth
        .iter()
        .map(|g| Entry {
            test: test.item.nodeid.clone(),
            signal: g.signal,
            per_run: g.per_run,
        })
        .collect()
}

/// A known leak that no longer shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Fixed {
    pub test: String,
    pub signal: Signal,
}

/// Accepts the leaks of `test` the baseline knows (growth at most `tolerance`
/// above the recorded rate, e.g. 0.5 = 50 %); the rest stay leaks. Returns
/// the known leaks of the test that no longer show, when it was judged.
pub fn apply(
    test: &mut TestReport,
    baseline: &Baseline,
    tolerance: f64,
    label: &str,
) -> Vec<Fixed> {
    let known: Vec<&Entry> = baseline
        .leaks
        .iter()
        .filter(|e| e.test == test.item.nodeid)
        .collect();
    if known.is_empty() {
        return Vec::new();
    }
    let judged = matches!(
        test.verdict,
        Verdict::Passed | Verdict::Leaked | Verdict::Allowed | Verdict::Inconclusive
    );
    let fixed = known
        .iter()
        .filter(|e| judged && !test.growth.iter().any(|g| g.signal == e.signal))
        .map(|e| Fixed {
            test: e.test.clone(),
            signal: e.signal,
        })
        .collect();
    if test.verdict == Verdict::Leaked {
        let within = |signal: Signal, per_run: f64| {
            known
                .iter()
                .any(|e| e.signal == signal && per_run <= e.per_run * (1.0 + tolerance) + 1e-9)
        };
        let new: Vec<_> = test
            .growth
            .iter()
            .filter(|g| !within(g.signal, g.per_run))
            .cloned()
            .collect();
        if new.is_empty() {
            test.verdict = Verdict::Allowed;
            test.allowed = Some(format!("known leak, in {label}"));
        } else {
            test.growth = new;
        }
    }
    fixed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(nodeid: &str, verdict: Verdict, growth: &[(Signal, f64)]) -> TestReport {
        TestReport::example(nodeid, verdict, growth)
    }

    #[test]
    fn baseline_is_sorted_rounded_and_stable() {
        let tests = [
            report(
                "b.py::t",
                Verdict::Leaked,
                &[(Signal::Bytes, 416.333), (Signal::Objects, 3.0)],
            ),
            report("a.py::t", Verdict::Leaked, &[(Signal::Fds, 1.0)]),
            report("c.py::t", Verdict::Passed, &[]),
        ];
        let baseline = Baseline::from_entries(tests.iter().flat_map(leaks_of).collect());
        let text = serde_json::to_string(&baseline).unwrap();
        assert_eq!(
            text,
            r#"{"schema":"leakhunt-baseline/1","leaks":[{"test":"a.py::t","signal":"fds","per_run":1.0},{"test":"b.py::t","signal":"objects","per_run":3.0},{"test":"b.py::t","signal":"bytes","per_run":416.33}]}"#
        );
    }

    #[test]
    fn only_new_or_grown_leaks_fail_and_stopped_ones_are_fixed() {
        let baseline = Baseline::merge(vec![
            Baseline::new(vec![Entry {
                test: "a.py::known".into(),
                signal: Signal::Objects,
                per_run: 10.0,
            }]),
            Baseline::new(vec![
                Entry {
                    test: "a.py::grew".into(),
                    signal: Signal::Objects,
                    per_run: 1.0,
                },
                Entry {
                    test: "a.py::fixed".into(),
                    signal: Signal::Fds,
                    per_run: 1.0,
                },
            ]),
        ]);
        let mut tests = [
            report("a.py::known", Verdict::Leaked, &[(Signal::Objects, 12.0)]),
            report("a.py::grew", Verdict::Leaked, &[(Signal::Objects, 3.0)]),
            report("a.py::fixed", Verdict::Passed, &[]),
            report("a.py::new", Verdict::Leaked, &[(Signal::Fds, 1.0)]),
        ];
        let fixed: Vec<Fixed> = tests
            .iter_mut()
            .flat_map(|t| apply(t, &baseline, 0.5, "base.json"))
            .collect();
        let verdicts: Vec<Verdict> = tests.iter().map(|t| t.verdict).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Allowed,
                Verdict::Leaked,
                Verdict::Passed,
                Verdict::Leaked
            ]
        );
        assert_eq!(
            tests[0].allowed.as_deref(),
            Some("known leak, in base.json")
        );
        assert_eq!(
            fixed,
            [Fixed {
                test: "a.py::fixed".into(),
                signal: Signal::Fds
            }]
        );
    }

    #[test]
    fn a_file_that_is_not_a_baseline_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.json");
        std::fs::write(&path, "{\"leaks\": 3}").unwrap();
        let error = Baseline::read(&path).unwrap_err().to_string();
        assert!(
            error.contains("b.json:1: not a leakhunt baseline"),
            "{error}"
        );
    }
}
