//! Replays the series of JSON reports through the verdict engine, checkpoint
//! by checkpoint as a worker asks it, and prints where each test would be
//! decided: a change to the verdict engine, built before and after, shows on
//! recorded sessions which tests it decides earlier, later or otherwise.
//!
//! cargo run --release --example replay_verdicts -- REPORT.json... > after.tsv
//!
//! Columns: report, node id, recorded outcome, judged runs recorded, judged
//! runs at the decision, decision. The default policy (10 judged runs, up to
//! 60); a test out of time is decided at its last recorded run as the worker
//! decided it, with the runs it had.

use anyhow::{Context, Result};
use leakhunt::model::signal::{Sample, Signal};
use leakhunt::model::verdict::{is_flat, judge, Judgement, Policy};
use serde_json::Value;

fn main() -> Result<()> {
    let policy = Policy::new(10, 60);
    for path in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        let report: Value =
            serde_json::from_str(&text).with_context(|| format!("{path} is not JSON"))?;
        for test in report["tests"].as_array().into_iter().flatten() {
            let series = series_of(&test["series"]);
            if series.len() < 2 {
                continue;
            }
            let out_of_time = !test["out_of_time"].is_null();
            let (at, decision) = decide(&series, &policy, out_of_time);
            println!(
                "{path}\t{}\t{}\t{}\t{at}\t{decision}",
                test["nodeid"].as_str().unwrap_or(""),
                test["outcome"].as_str().unwrap_or(""),
                series.len() - 1
            );
        }
    }
    Ok(())
}

/// A report's series as samples: the baseline, then one per judged run.
fn series_of(series: &Value) -> Vec<Sample> {
    let runs = series["objects"].as_array().map_or(0, Vec::len);
    (0..runs)
        .map(|run| {
            let mut values = [0; 6];
            for signal in Signal::ALL {
                values[signal.index()] = series[signal.name()][run].as_i64().unwrap_or(0);
            }
            Sample(values)
        })
        .collect()
}

/// The first judged run at which a worker would stop, and what it decides.
fn decide(series: &[Sample], policy: &Policy, out_of_time: bool) -> (usize, &'static str) {
    let last = series.len() - 1;
    for judged in 1..=last {
        let seen = &series[..=judged];
        if is_flat(seen, policy) {
            return (judged, "clean");
        }
        let judgement = if out_of_time && judged == last {
            judge(seen, &policy.capped_at(judged))
        } else if policy.is_checkpoint(judged) {
            judge(seen, policy)
        } else {
            continue;
        };
        match judgement {
            Judgement::NeedMore => {}
            Judgement::Clean => return (judged, "clean"),
            Judgement::Leak(_) => return (judged, "leak"),
            Judgement::Inconclusive(_) => return (judged, "inconclusive"),
        }
    }
    (last, "undecided")
}
