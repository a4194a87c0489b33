//! The machine-readable report (`--json PATH`), schema `leakhunt-report/1`,
//! documented in README.md. The structs here are the schema: a field is only
//! ever added, and a change in meaning bumps the version.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use crate::model::diagnosis::cause::cause_of;
use crate::model::diagnosis::{native_commands, Diagnosis};
use crate::model::outcome::{PytestWarning, SessionReport, TestReport};
use crate::model::repeatability::NotRepeatable;
use crate::model::resource_warning::ResourceWarning;
use crate::model::signal::Signal;
use crate::report::atomic::write_atomically;

pub const SCHEMA: &str = "leakhunt-report/1";

#[derive(Serialize)]
struct Report<'a> {
    schema: &'static str,
    leakhunt: &'static str,
    duration: f64,
    interrupted: bool,
    /// Tests per outcome (`passed`, `failed`, `error`, `skipped`, `leaked`,
    /// `inconclusive`, `allowed`).
    summary: BTreeMap<String, usize>,
    collection_errors: Vec<CollectionError<'a>>,
    /// pytest's warnings while it configured and collected.
    collection_warnings: &'a [PytestWarning],
    tests: Vec<Test<'a>>,
}

#[derive(Serialize)]
struct CollectionError<'a> {
    path: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct Test<'a> {
    nodeid: &'a str,
    path: &'a str,
    line: u32,
    outcome: String,
    runs: usize,
    warmup: usize,
    duration: f64,
    failure: Option<Failure<'a>>,
    skip_reason: Option<&'a str>,
    /// Why an allowed leak is accepted (allow-list reasons or the baseline).
    allowed: Option<&'a str>,
    growth: Vec<Growth>,
    /// Signal name -> its value at the baseline, then after each judged run.
    series: BTreeMap<&'static str, Vec<i64>>,
    resource_warnings: &'a [ResourceWarning],
    /// pytest's other warnings of the test's first run, as pytest shows them.
    pytest_warnings: &'a [String],
    diagnosis: Option<&'a Diagnosis>,
    /// Equal for leaks of one cause (same root, same growing types).
    cause: Option<String>,
    /// For a native leak: commands that show where C code allocates.
    native_commands: Vec<String>,
    /// Set when the test failed only because it ran again:
    /// `{"kind": "fails-when-repeated", "run": 2}` or
    /// `{"kind": "slower-every-run", "run_times": [seconds...]}`.
    not_repeatable: Option<&'a NotRepeatable>,
    /// Seconds its judged runs took past which the verdict was decided with
    /// the runs they had (a slow test), or null.
    out_of_time: Option<f64>,
    /// Set when what grew was held through bounded caches: the runs that
    /// filled them, and whether they were full (the verdict is then that
    /// of the runs after), or null.
    filled: Option<Filled<'a>>,
}

#[derive(Serialize)]
struct Filled<'a> {
    caches: Vec<FilledCache<'a>>,
    runs: usize,
    full: bool,
}

#[derive(Serialize)]
struct FilledCache<'a> {
    name: &'a str,
    maxsize: usize,
}

#[derive(Serialize)]
struct Failure<'a> {
    kind: &'a str,
    message: &'a str,
    traceback: &'a str,
    run: usize,
    phase: &'a str,
}

#[derive(Serialize)]
struct Growth {
    signal: &'static str,
    per_run: f64,
}

fn test(report: &TestReport) -> Test<'_> {
    let series = Signal::ALL
        .iter()
        .map(|&s| (s.name(), report.series.iter().map(|x| x.get(s)).collect()))
        .collect();
    let native = report.diagnosis.as_ref().is_some_and(|d| d.native);
    Test {
        nodeid: &report.item.nodeid,
        path: &report.item.path,
        line: report.item.line,
        outcome: report.verdict.word().to_lowercase(),
        runs: report.runs,
        warmup: report.warmup,
        duration: report.duration.as_secs_f64(),
        failure: report.failure.as_ref().map(|f| Failure {
            kind: &f.kind,
            message: &f.message,
            traceback: &f.traceback,
            run: f.run,
            phase: &f.phase,
        }),
        skip_reason: report.skip_reason.as_deref(),
        allowed: report.allowed.as_deref(),
        growth: report
            .growth
            .iter()
            .map(|g| Growth {
                signal: g.signal.name(),
                per_run: g.per_run,
            })
            .collect(),
        series,
        resource_warnings: &report.resource_warnings,
        pytest_warnings: &report.pytest_warnings,
        diagnosis: report.diagnosis.as_ref(),
        cause: report.diagnosis.as_ref().and_then(cause_of).map(|c| c.key),
        native_commands: if native {
            native_commands(&report.item.nodeid)
        } else {
            Vec::new()
        },
        not_repeatable: report.not_repeatable.as_ref(),
        out_of_time: report.out_of_time.map(|budget| budget.as_secs_f64()),
        filled: report.filled.as_ref().map(|fill| Filled {
            caches: fill
                .caches
                .iter()
                .map(|(name, maxsize)| FilledCache {
                    name,
                    maxsize: *maxsize,
                })
                .collect(),
            runs: fill.runs,
            full: fill.full,
        }),
    }
}

/// The JSON text for `session`.
pub fn render_json(session: &SessionReport) -> anyhow::Result<String> {
    let mut summary = BTreeMap::new();
    for t in &session.tests {
        *summary.entry(t.verdict.word().to_lowercase()).or_insert(0) += 1;
    }
    let report = Report {
        schema: SCHEMA,
        leakhunt: env!("CARGO_PKG_VERSION"),
        duration: session.duration.as_secs_f64(),
        interrupted: session.interrupted,
        summary,
        collection_errors: session
            .collection_errors
            .iter()
            .map(|e| CollectionError {
                path: &e.path,
                message: &e.message,
            })
            .collect(),
        collection_warnings: &session.collection_warnings,
        tests: session.tests.iter().map(test).collect(),
    };
    let mut text = serde_json::to_string_pretty(&report).context("serialising the JSON report")?;
    text.push('\n');
    Ok(text)
}

/// Writes the report atomically, like the JUnit one.
pub fn write_json(session: &SessionReport, path: &Path) -> anyhow::Result<()> {
    write_atomically(path, render_json(session)?.as_bytes(), "JSON report")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::Verdict;

    #[test]
    fn an_empty_session_names_its_schema() {
        let text = render_json(&SessionReport::default()).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["schema"], "leakhunt-report/1");
        assert_eq!(value["tests"], serde_json::json!([]));
        assert_eq!(value["summary"], serde_json::json!({}));
    }

    #[test]
    fn a_test_decided_when_its_time_was_up_says_after_how_long() {
        let mut slow = TestReport::example("t.py::test_slow", Verdict::Inconclusive, &[]);
        slow.out_of_time = Some(std::time::Duration::from_secs(30));
        let quick = TestReport::example("t.py::test_quick", Verdict::Passed, &[]);
        let session = SessionReport {
            tests: vec![slow, quick],
            ..SessionReport::default()
        };
        let value: serde_json::Value =
            serde_json::from_str(&render_json(&session).unwrap()).unwrap();
        assert_eq!(value["tests"][0]["out_of_time"], serde_json::json!(30.0));
        assert_eq!(value["tests"][1]["out_of_time"], serde_json::Value::Null);
    }
}
