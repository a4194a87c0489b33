//! How numbers read in every report: growth rates and series.

use crate::model::outcome::{Growth, TestReport, Verdict};
use crate::model::signal::{Sample, Signal};

/// What happened to a test that grew: `leaked`, `leaked, allowed (reason)`,
/// or `still ambiguous (inconclusive)`, with why it had fewer runs than the
/// cap when its time was up.
pub fn growth_outcome(test: &TestReport) -> String {
    match test.verdict {
        Verdict::Allowed => format!(
            "leaked, allowed ({})",
            test.allowed.as_deref().unwrap_or("accepted")
        ),
        Verdict::Inconclusive => match test.out_of_time {
            Some(budget) => format!(
                "still ambiguous (inconclusive: its judged runs took over {} s)",
                budget.as_secs()
            ),
            None => "still ambiguous (inconclusive)".to_string(),
        },
        _ => "leaked".to_string(),
    }
}

/// `+3 objects/run`, `+0.33 fds/run`, `+416 B/run`, `+256.0 KiB rss/run`.
pub fn rate(growth: &Growth) -> String {
    match growth.signal {
        // Beside the heap's bytes, resident memory is named: both are bytes.
        Signal::Rss => format!("{} rss/run", amount(growth.signal, growth.per_run)),
        _ => format!("{}/run", amount(growth.signal, growth.per_run)),
    }
}

/// `+3 objects/run, +416 B/run`
pub fn rates(growth: &[Growth]) -> String {
    growth.iter().map(rate).collect::<Vec<_>>().join(", ")
}

/// A signed amount of one signal, in its unit.
pub fn amount(signal: Signal, value: f64) -> String {
    let sign = if value < 0.0 { "-" } else { "+" };
    let magnitude = value.abs();
    match signal {
        Signal::Bytes | Signal::Rss => format!("{sign}{}", bytes(magnitude)),
        _ => format!("{sign}{} {}", number(magnitude), signal.unit()),
    }
}

fn number(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        format!("{}", value.round() as i64)
    } else {
        format!("{value:.2}")
    }
}

fn bytes(value: f64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if value < 1024.0 {
        return format!("{} B", number(value));
    }
    let mut scaled = value / 1024.0;
    let mut unit = 0;
    while scaled >= 1024.0 && unit + 1 < UNITS.len() {
        scaled /= 1024.0;
        unit += 1;
    }
    format!("{scaled:.1} {}", UNITS[unit])
}

/// The deltas between consecutive samples, repeats folded onto the value
/// they repeat: `+1×20`, `+4096 +0×3 +4096` or `+0 +3 +0 +0 +3`. A helper
/// read `+4096 +0 x3` as the pair repeated.
pub fn deltas(series: &[Sample], signal: Signal) -> String {
    let values: Vec<i64> = series.iter().map(|s| s.get(signal)).collect();
    let steps: Vec<i64> = values.windows(2).map(|w| w[1] - w[0]).collect();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < steps.len() {
        let mut j = i;
        while j < steps.len() && steps[j] == steps[i] {
            j += 1;
        }
        let text = format!("{:+}", steps[i]);
        if j - i >= 3 {
            parts.push(format!("{text}×{}", j - i));
        } else {
            parts.extend(std::iter::repeat_n(text, j - i));
        }
        i = j;
    }
    parts.join(" ")
}

/// One line per signal: first and last value and the folded deltas.
pub fn series_lines(series: &[Sample]) -> Vec<String> {
    let (Some(first), Some(last)) = (series.first(), series.last()) else {
        return Vec::new();
    };
    Signal::ALL
        .iter()
        .map(|&signal| {
            format!(
                "{:<8} {} -> {}  deltas: {}",
                signal.name(),
                first.get(signal),
                last.get(signal),
                deltas(series, signal)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_in_each_signal_unit() {
        let g = |signal, per_run| Growth { signal, per_run };
        assert_eq!(rate(&g(Signal::Objects, 3.0)), "+3 objects/run");
        assert_eq!(rate(&g(Signal::Objects, 1.0 / 3.0)), "+0.33 objects/run");
        assert_eq!(rate(&g(Signal::Bytes, 416.0)), "+416 B/run");
        assert_eq!(rate(&g(Signal::Rss, 262_144.0)), "+256.0 KiB rss/run");
        assert_eq!(
            rate(&g(Signal::Bytes, 3.5 * 1024.0 * 1024.0)),
            "+3.5 MiB/run"
        );
        assert_eq!(rate(&g(Signal::Fds, 1.0)), "+1 fds/run");
        assert_eq!(
            rates(&[g(Signal::Objects, 3.0), g(Signal::Bytes, 416.0)]),
            "+3 objects/run, +416 B/run"
        );
    }

    #[test]
    fn an_inconclusive_test_says_when_its_time_was_up() {
        // orjson's test_faker: 32 runs, not 60, and nothing said why.
        let mut test = TestReport::example("t.py::test_slow", Verdict::Inconclusive, &[]);
        assert_eq!(growth_outcome(&test), "still ambiguous (inconclusive)");
        test.out_of_time = Some(std::time::Duration::from_secs(30));
        assert_eq!(
            growth_outcome(&test),
            "still ambiguous (inconclusive: its judged runs took over 30 s)"
        );
        test.verdict = Verdict::Leaked;
        assert_eq!(growth_outcome(&test), "leaked");
    }

    #[test]
    fn deltas_fold_repeats() {
        let series: Vec<Sample> = [0, 1, 2, 3, 4, 4, 7]
            .iter()
            .map(|&v| Sample([v, 0, 0, 0, 0, 0]))
            .collect();
        assert_eq!(deltas(&series, Signal::Objects), "+1×4 +0 +3");
        assert_eq!(deltas(&series, Signal::Blocks), "+0×6");
    }
}
