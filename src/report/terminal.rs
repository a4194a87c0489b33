//! The pytest-style terminal report: header, progress, failure and leak
//! sections, short summary, final line.

use std::io::Write;

use crate::model::event::Progress;
use crate::model::interpreter::InterpreterInfo;
use crate::model::outcome::{SessionReport, SessionStatus, TestReport, Verdict};
use crate::model::repeatability::NotRepeatable;
use crate::model::sanitize::printable;
use crate::report::bounds::{self, TERMINAL_CHARS};
use crate::report::explain::grouped_lines;
use crate::report::format::{growth_outcome, rates, series_lines};
use crate::settings::Verbosity;

#[derive(Clone, Copy)]
enum Color {
    Red,
    Green,
    Yellow,
    Bold,
    Dim,
}

/// What the header says about the session.
pub struct Header<'a> {
    pub interpreter: &'a InterpreterInfo,
    pub rootdir: &'a str,
    pub engine: &'a str,
    pub warmup: usize,
    pub iterations: usize,
    /// Judged runs after which a test in which nothing moved is clean.
    pub flat_iterations: usize,
    pub max_iterations: usize,
}

pub struct Terminal {
    out: Box<dyn Write>,
    verbosity: Verbosity,
    color: bool,
    width: usize,
    total: usize,
    done: usize,
    /// The file whose progress characters the current line holds.
    line_file: Option<String>,
    line_len: usize,
    /// Draw a live progress line (only on a terminal).
    live: bool,
    /// What the current, unfinished line holds, to redraw it under the status.
    partial: String,
    status_shown: bool,
    /// Tests arrive as they finish, files mixed (several workers): no file
    /// names on the progress lines, as under pytest-xdist.
    completion_order: bool,
}

impl Terminal {
    /// `live`: draw a progress line as tests run (stdout is a terminal).
    pub fn new(out: Box<dyn Write>, verbosity: Verbosity, color: bool, live: bool) -> Terminal {
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .filter(|&w: &usize| w >= 40)
            .unwrap_or(80);
        Terminal {
            out,
            verbosity,
            color,
            width,
            total: 0,
            done: 0,
            line_file: None,
            line_len: 0,
            live,
            partial: String::new(),
            status_shown: false,
            completion_order: false,
        }
    }

    /// Tests will be reported as they finish, files mixed.
    pub fn in_completion_order(&mut self) {
        self.completion_order = true;
    }

    fn paint(&self, text: &str, color: Color) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match color {
            Color::Red => "31",
            Color::Green => "32",
            Color::Yellow => "33",
            Color::Bold => "1",
            Color::Dim => "2",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    fn write(&mut self, text: &str) {
        let mut bytes = String::new();
        if self.status_shown {
            // Wipe the progress line, put back what the line held before it.
            bytes.push_str("\r\x1b[K");
            bytes.push_str(&self.partial);
            self.status_shown = false;
        }
        bytes.push_str(text);
        match text.rfind('\n') {
            Some(at) => self.partial = text[at + 1..].to_string(),
            None => self.partial.push_str(text),
        }
        // A closed stdout must not take the results with it: reports are written anyway.
        let _ = self.out.write_all(bytes.as_bytes());
        let _ = self.out.flush();
    }

    /// The live progress line: tests done, leaks so far, elapsed time and what
    /// runs now. Drawn after what the current line holds; never when output is
    /// not a terminal.
    pub fn progress(&mut self, progress: &Progress) {
        if !self.live {
            return;
        }
        let running = match progress.running.first() {
            // The file name and test: folders would crowd out the run number.
            Some((nodeid, run)) => {
                let short = nodeid.rsplit_once('/').map_or(nodeid.as_str(), |(_, s)| s);
                format!(" · {short} run {run}")
            }
            None => String::new(),
        };
        let status = format!(
            "{}/{} tests · {} leaked · {:.0}s{running}",
            progress.done,
            progress.total,
            progress.leaked,
            progress.elapsed.as_secs_f64()
        );
        let used = self.partial.chars().count() + 2;
        let room = self.width.saturating_sub(used + 1);
        let status: String = status.chars().take(room).collect();
        let text = format!(
            "\r\x1b[K{}  {}",
            self.partial,
            self.paint(&status, Color::Dim)
        );
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
        self.status_shown = true;
    }

    fn line(&mut self, text: &str) {
        self.write(&format!("{text}\n"));
    }

    /// `===== title =====` across the width.
    fn rule(&self, title: &str, fill: char) -> String {
        if title.is_empty() {
            return fill.to_string().repeat(self.width);
        }
        let inner = format!(" {title} ");
        let side = self.width.saturating_sub(inner.chars().count()) / 2;
        let left = fill.to_string().repeat(side.max(1));
        let right = fill.to_string().repeat(
            self.width
                .saturating_sub(side + inner.chars().count())
                .max(1),
        );
        format!("{left}{inner}{right}")
    }

    pub fn header(&mut self, header: &Header<'_>) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        let title = self.rule("leakhunt session starts", '=');
        let title = self.paint(&title, Color::Bold);
        self.line(&title);
        self.line(&format!(
            "platform {} -- Python {}, leakhunt {}",
            std::env::consts::OS,
            header.interpreter.version,
            env!("CARGO_PKG_VERSION")
        ));
        self.line(&format!("python: {}", header.interpreter.prefix));
        self.line(&format!("rootdir: {}", header.rootdir));
        // A clean test stops after the flat runs: "iterations 10" alone
        // read as ten runs of every test to a helper.
        self.line(&format!(
            "engine: {}, warm-up {}, iterations {} ({} when nothing moves, up to {})",
            header.engine,
            header.warmup,
            header.iterations,
            header.flat_iterations,
            header.max_iterations
        ));
    }

    /// pytest's collection line. `collected` and `selected` count tests, not
    /// the `skipped` files (skipped whole at import), which pytest lists apart.
    pub fn collected(&mut self, collected: usize, selected: usize, errors: usize, skipped: usize) {
        self.total = selected;
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        let noun = if collected == 1 { "item" } else { "items" };
        let mut text = format!("collected {collected} {noun}");
        if errors > 0 {
            text.push_str(&format!(" / {errors} {}", plural(errors, "error")));
        }
        if selected < collected {
            text.push_str(&format!(" / {} deselected", collected - selected));
        }
        if skipped > 0 {
            text.push_str(&format!(" / {skipped} skipped"));
        }
        if selected < collected {
            text.push_str(&format!(" / {selected} selected"));
        }
        self.line(&self.paint(&text, Color::Bold));
        self.line("");
    }

    fn percent(&self) -> String {
        let pct = (self.done * 100).checked_div(self.total).unwrap_or(100);
        format!("[{pct:>3}%]")
    }

    fn end_progress_line(&mut self) {
        if self.line_file.is_none() {
            return;
        }
        if self.line_len == 0 {
            // The line was full and ended with its progress already.
            self.line_file = None;
            return;
        }
        let percent = self.percent();
        let pad = self
            .width
            .saturating_sub(self.line_len + percent.len() + 1)
            .max(1);
        self.line(&format!("{}{percent}", " ".repeat(pad)));
        self.line_file = None;
        self.line_len = 0;
    }

    /// Progress for one finished test.
    pub fn test_done(&mut self, report: &TestReport) {
        if report.item.is_skipped_file() {
            return; // pytest counts it in the collection line and the totals only
        }
        let color = verdict_color(report.verdict);
        match self.verbosity {
            Verbosity::Quiet | Verbosity::Normal => {
                let named = self.verbosity == Verbosity::Normal && !self.completion_order;
                if named && self.line_file.as_deref() != Some(report.item.path.as_str()) {
                    // The previous file's line shows the progress before this test.
                    self.end_progress_line();
                    let path = format!("{} ", report.item.path);
                    self.line_len = path.chars().count();
                    self.write(&path);
                    self.line_file = Some(report.item.path.clone());
                }
                if !named && self.line_file.is_none() {
                    self.line_file = Some(String::new());
                }
                self.done += 1;
                let letter = self.paint(&report.verdict.letter().to_string(), color);
                self.line_len += 1;
                self.write(&letter);
                // Like pytest, a full line ends with the progress so far and
                // the file's letters go on below.
                let percent = self.percent();
                if self.done < self.total && self.line_len + percent.len() + 2 >= self.width {
                    self.line(&format!(" {percent}"));
                    self.line_len = 0;
                }
            }
            Verbosity::Verbose | Verbosity::Series => {
                self.done += 1;
                let word = report.verdict.word();
                let percent = self.percent();
                let used = report.item.nodeid.chars().count() + 1 + word.len();
                let pad = self.width.saturating_sub(used + percent.len() + 1).max(1);
                let text = format!(
                    "{} {}{}{percent}",
                    report.item.nodeid,
                    self.paint(word, color),
                    " ".repeat(pad)
                );
                self.line(&text);
                // A leak's section says it; a test that passed once its
                // caches were full says it here.
                if let (Some(fill), Verdict::Passed) = (&report.filled, report.verdict) {
                    self.line(&format!("    {}", printable(&fill.text())));
                }
                if self.verbosity == Verbosity::Series {
                    for line in series_lines(&report.series) {
                        self.line(&format!("    {line}"));
                    }
                }
            }
        }
    }

    /// Failure and leak sections, the short summary and the final line.
    /// `notes` are printed just before the final line (fixed baseline leaks).
    pub fn finish(&mut self, session: &SessionReport, deselected: usize, notes: &[String]) {
        self.end_progress_line();
        // pytest leaves one blank line after the progress (none under -q),
        // and none before each section's rule.
        if self.verbosity != Verbosity::Quiet {
            self.line("");
        }
        let failures: Vec<&TestReport> = session
            .tests
            .iter()
            .filter(|t| matches!(t.verdict, Verdict::Failed | Verdict::Error))
            .collect();
        if !session.collection_errors.is_empty() {
            self.line(&self.rule("ERRORS", '='));
            for error in &session.collection_errors {
                self.line(&self.rule(&format!("ERROR collecting {}", error.path), '_'));
                self.line(&bounded(&error.message));
            }
        }
        if !failures.is_empty() {
            self.line(&self.rule("FAILURES", '='));
            for test in failures {
                self.failure_section(test);
            }
        }
        let leaks: Vec<&TestReport> = session
            .tests
            .iter()
            .filter(|t| {
                matches!(
                    t.verdict,
                    Verdict::Leaked | Verdict::Inconclusive | Verdict::Allowed
                )
            })
            .collect();
        if !leaks.is_empty() {
            self.line(&self.paint(&self.rule("LEAKS", '='), Color::Red));
            for test in &leaks {
                self.leak_section(test, &leaks);
            }
        }
        self.warnings_summary(session);
        self.short_summary(session);
        for note in notes {
            self.line(&self.paint(note, Color::Green));
        }
        if session.interrupted {
            self.line(&self.rule("interrupted: not every test ran", '!'));
        }
        self.final_line(session, deselected);
    }

    fn failure_section(&mut self, test: &TestReport) {
        let title = match test.failure.as_ref().map(|f| f.phase.as_str()) {
            Some("setup") => format!("ERROR at setup of {}", test.item.head_line()),
            Some("teardown") => format!("ERROR at teardown of {}", test.item.head_line()),
            _ => test.item.head_line(),
        };
        self.line(&self.rule(&title, '_'));
        if let Some(failure) = &test.failure {
            if !failure.traceback.is_empty() {
                self.line(&bounded(&failure.traceback));
            }
            self.line(&format!(
                "{}: {}",
                test.item.nodeid,
                self.paint(&bounds::summary(&printable(&failure.summary())), Color::Red)
            ));
        }
        if let Some(not_repeatable) = &test.not_repeatable {
            self.line(&self.paint(&not_repeatable.describe(), Color::Yellow));
        }
        if !test.captured.is_empty() {
            self.line(&self.rule("Captured output", '-'));
            self.line(&printable(test.captured.trim_end()));
        }
    }

    fn leak_section(&mut self, test: &TestReport, leaks: &[&TestReport]) {
        self.line(&self.rule(&test.item.head_line(), '_'));
        let what = growth_outcome(test);
        self.line(&format!(
            "{}: {} {what} after {} runs ({} warm-up): {}",
            test.item.location(),
            test.item.nodeid,
            test.runs,
            test.warmup,
            rates(&test.growth)
        ));
        for line in series_lines(&test.series) {
            let grew = test
                .growth
                .iter()
                .any(|g| line.starts_with(g.signal.name()));
            let marker = if grew { "> " } else { "  " };
            self.line(&format!("{marker}{line}"));
        }
        // Names in a diagnosis are the test's (a class's, a thread's): a
        // control character in one must not reach the terminal.
        for line in grouped_lines(test, leaks) {
            self.line(&printable(&line));
        }
    }

    /// pytest's "warnings summary": pytest's own warnings as pytest shows
    /// them, then the ResourceWarnings of tests that were not failed for
    /// them (`--strict-resources` makes them failures instead).
    fn warnings_summary(&mut self, session: &SessionReport) {
        let warned: Vec<&TestReport> = session
            .tests
            .iter()
            .filter(|t| !t.resource_warnings.is_empty() && t.verdict != Verdict::Failed)
            .collect();
        let pytest_lines = pytest_warning_lines(session);
        if warned.is_empty() && pytest_lines.is_empty() {
            return;
        }
        self.line(&self.paint(&self.rule("warnings summary", '='), Color::Yellow));
        for line in pytest_lines {
            self.line(&line);
        }
        for test in warned {
            self.line(&test.item.nodeid);
            for warning in &test.resource_warnings {
                self.line(&format!("  {} ({} runs)", warning.line(), warning.runs));
                if let Some(at) = &warning.opened {
                    if !at.source.is_empty() {
                        self.line(&format!("    {}", at.source));
                    }
                }
            }
            self.line("");
        }
    }

    /// pytest's short summary; tests that failed only because they ran
    /// again come last, under `not repeatable: N`, apart from real failures.
    fn short_summary(&mut self, session: &SessionReport) {
        let mut lines = Vec::new();
        let mut not_repeatable = Vec::new();
        for error in &session.collection_errors {
            lines.push(format!(
                "{} {}",
                self.paint("ERROR", Color::Red),
                error.path
            ));
        }
        for test in &session.tests {
            let detail = match test.verdict {
                Verdict::Failed | Verdict::Error => (test.failure.as_ref())
                    .map(|f| bounds::summary(&printable(&f.summary())).into_owned()),
                Verdict::Leaked | Verdict::Inconclusive => Some(rates(&test.growth)),
                Verdict::Allowed => Some(format!(
                    "{} ({})",
                    rates(&test.growth),
                    test.allowed.as_deref().unwrap_or("accepted")
                )),
                _ => continue,
            };
            let word = self.paint(test.verdict.word(), verdict_color(test.verdict));
            let line = match detail {
                Some(detail) => format!("{word} {} - {detail}", test.item.nodeid),
                None => format!("{word} {}", test.item.nodeid),
            };
            if let Some(kind) = test
                .not_repeatable
                .as_ref()
                .filter(|_| test.verdict.is_bad())
            {
                not_repeatable.push((line, kind));
            } else {
                lines.push(line);
            }
        }
        if lines.is_empty() && not_repeatable.is_empty() {
            return;
        }
        self.line(&self.rule("short test summary info", '='));
        for line in lines {
            self.line(&line);
        }
        if !not_repeatable.is_empty() {
            let fail = not_repeatable
                .iter()
                .any(|(_, kind)| matches!(kind, NotRepeatable::FailsWhenRepeated { .. }));
            let slow = not_repeatable
                .iter()
                .any(|(_, kind)| matches!(kind, NotRepeatable::SlowerEveryRun { .. }));
            let how = match (fail, slow) {
                (true, true) => "fail or slow down",
                (false, true) => "slow down",
                _ => "fail",
            };
            let title = format!(
                "not repeatable: {} (they {how} only when run again)",
                not_repeatable.len()
            );
            self.line(&self.paint(&title, Color::Yellow));
            for (line, _) in not_repeatable {
                self.line(&line);
            }
        }
    }

    fn final_line(&mut self, session: &SessionReport, deselected: usize) {
        let summary = summary_counts(session, deselected);
        let text = format!("{summary} in {:.2}s", session.duration.as_secs_f64());
        let color = match session.status() {
            SessionStatus::Bad => Color::Red,
            SessionStatus::Warn => Color::Yellow,
            SessionStatus::Good => Color::Green,
        };
        let text = if self.verbosity == Verbosity::Quiet {
            text
        } else {
            self.rule(&text, '=')
        };
        self.line(&self.paint(&text, color));
    }
}

/// `1 failed, 20 passed, 5 leaked, 2 skipped, 3 warnings, 1 error, 4
/// subtests passed`, in pytest's order, or `no tests ran`.
pub fn summary_counts(session: &SessionReport, deselected: usize) -> String {
    let errors = session.count(Verdict::Error) + session.collection_errors.len();
    let (pytest_warnings, pytest_others) = pytest_counts(session);
    let warnings: usize = session
        .tests
        .iter()
        .filter(|t| t.verdict != Verdict::Failed)
        .map(|t| t.resource_warnings.len())
        .sum::<usize>()
        + pytest_warnings;
    let mut parts: Vec<(usize, String)> = vec![
        (session.count(Verdict::Failed), "failed".to_string()),
        (session.count(Verdict::Passed), "passed".to_string()),
        (session.count(Verdict::Leaked), "leaked".to_string()),
        (session.count(Verdict::Allowed), "allowed".to_string()),
        (session.count(Verdict::Skipped), "skipped".to_string()),
        (session.count(Verdict::XFailed), "xfailed".to_string()),
        (session.count(Verdict::XPassed), "xpassed".to_string()),
        (
            session.count(Verdict::Inconclusive),
            "inconclusive".to_string(),
        ),
        (deselected, "deselected".to_string()),
        (warnings, plural(warnings, "warning")),
        (errors, plural(errors, "error")),
    ];
    // pytest puts the categories it does not know itself last.
    parts.extend(pytest_others);
    let parts: Vec<String> = parts
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, word)| format!("{n} {word}"))
        .collect();
    if parts.is_empty() {
        "no tests ran".to_string()
    } else {
        parts.join(", ")
    }
}

/// pytest's own counts over the session: its warnings (of the collection
/// and of each test's first run), and its other categories (`subtests
/// passed`, ...) in the order they first appear.
fn pytest_counts(session: &SessionReport) -> (usize, Vec<(usize, String)>) {
    let warnings = session.collection_warnings.len()
        + session
            .tests
            .iter()
            .map(|t| t.pytest_warnings.len())
            .sum::<usize>();
    let mut others: Vec<(&str, usize)> = Vec::new();
    for (category, count) in session.tests.iter().flat_map(|t| &t.pytest_counts) {
        *entry(&mut others, category.as_str()) += count;
    }
    let others = others
        .into_iter()
        .map(|(c, n)| (n, c.to_string()))
        .collect();
    (warnings, others)
}

/// The value of `key` in `entries`, added last when new: the entries stay
/// in the order their keys first came, as pytest's summaries list them.
fn entry<K: PartialEq, V: Default>(entries: &mut Vec<(K, V)>, key: K) -> &mut V {
    let at = match entries.iter().position(|(k, _)| *k == key) {
        Some(at) => at,
        None => {
            entries.push((key, V::default()));
            entries.len() - 1
        }
    };
    &mut entries[at].1
}

/// pytest's warnings, collection's first, as pytest's warnings summary
/// prints them: one entry per message, under where it was given (or, from 10
/// places on, a count per file), the message indented, then a blank line.
fn pytest_warning_lines(session: &SessionReport) -> Vec<String> {
    let given = session
        .collection_warnings
        .iter()
        .map(|w| (w.location.as_str(), w.message.as_str()))
        .chain(session.tests.iter().flat_map(|t| {
            (t.pytest_warnings.iter()).map(|message| (t.item.nodeid.as_str(), message.as_str()))
        }));
    let mut by_message: Vec<(&str, Vec<&str>)> = Vec::new();
    for (location, message) in given {
        entry(&mut by_message, message).push(location);
    }
    let mut lines = Vec::new();
    for (message, locations) in by_message {
        let locations: Vec<&str> = locations.into_iter().filter(|l| !l.is_empty()).collect();
        // A 10 MB message would flood the log; the JSON report has it whole.
        let message = bounded(message);
        if locations.is_empty() {
            lines.push(message);
        } else {
            lines.extend(collapsed(&locations));
            lines.extend(message.lines().map(|l| format!("  {l}")));
        }
        lines.push(String::new());
    }
    lines
}

/// pytest's `collapsed_location_report`: the places, or from 10 on, how
/// many warnings each file gave.
fn collapsed(locations: &[&str]) -> Vec<String> {
    if locations.len() < 10 {
        return locations.iter().map(|l| printable(l)).collect();
    }
    let mut per_file: Vec<(&str, usize)> = Vec::new();
    for location in locations {
        *entry(
            &mut per_file,
            location.split("::").next().unwrap_or(location),
        ) += 1;
    }
    per_file
        .into_iter()
        .map(|(file, n)| format!("{}: {n} {}", printable(file), plural(n, "warning")))
        .collect()
}

/// A traceback as the terminal shows it: printable, and cut at
/// [`TERMINAL_CHARS`] (a 10 MB message would otherwise flood the log).
fn bounded(text: &str) -> String {
    bounds::body(&printable(text.trim_end()), TERMINAL_CHARS).into_owned()
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

fn verdict_color(verdict: Verdict) -> Color {
    match verdict {
        Verdict::Passed => Color::Green,
        Verdict::Skipped
        | Verdict::Inconclusive
        | Verdict::Allowed
        | Verdict::XFailed
        | Verdict::XPassed => Color::Yellow,
        Verdict::Failed | Verdict::Error | Verdict::Leaked => Color::Red,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::PytestWarning;

    #[test]
    fn pytest_counts_go_where_pytest_puts_them() {
        let mut warned = TestReport::example("t.py::test_w", Verdict::Passed, &[]);
        warned.pytest_counts = vec![("subtests passed".into(), 3)];
        warned.pytest_warnings = vec!["one".into(), "two".into()];
        let mut sub = TestReport::example("t.py::test_s", Verdict::Passed, &[]);
        sub.pytest_counts = vec![
            ("subtests passed".into(), 2),
            ("subtests skipped".into(), 1),
        ];
        let error = TestReport::example("t.py::test_e", Verdict::Error, &[]);
        let session = SessionReport {
            tests: vec![warned, sub, error],
            ..SessionReport::default()
        };
        assert_eq!(
            summary_counts(&session, 0),
            "2 passed, 2 warnings, 1 error, 5 subtests passed, 1 subtests skipped"
        );
    }

    /// As pytest's `summary_warnings`: one entry per message, where it was
    /// given above it, from 10 places on a count per file.
    #[test]
    fn pytest_warnings_are_grouped_by_message_as_pytest_groups_them() {
        let warned = |nodeid: &str, messages: &[&str]| {
            let mut test = TestReport::example(nodeid, Verdict::Passed, &[]);
            test.pytest_warnings = messages.iter().map(|m| m.to_string()).collect();
            test
        };
        let mut tests = vec![
            warned("a.py::t1", &["a.py:3: UserWarning: same\n  warn()"]),
            warned(
                "a.py::t2",
                &["a.py:3: UserWarning: same\n  warn()", "other"],
            ),
        ];
        for i in 0..10 {
            let file = if i < 7 { "b.py" } else { "c.py" };
            tests.push(warned(&format!("{file}::t{i}"), &["many"]));
        }
        let session = SessionReport {
            tests,
            collection_warnings: vec![PytestWarning {
                location: "a.py:1".into(),
                message: "a.py:1: UserWarning: import".into(),
            }],
            ..SessionReport::default()
        };
        assert_eq!(
            pytest_warning_lines(&session),
            [
                "a.py:1",
                "  a.py:1: UserWarning: import",
                "",
                "a.py::t1",
                "a.py::t2",
                "  a.py:3: UserWarning: same",
                "    warn()",
                "",
                "a.py::t2",
                "  other",
                "",
                "b.py: 7 warnings",
                "c.py: 3 warnings",
                "  many",
                "",
            ]
        );
        assert_eq!(summary_counts(&session, 0), "12 passed, 14 warnings");
    }

    /// A warning of 10 MB is cut in the terminal as a traceback is.
    #[test]
    fn a_huge_pytest_warning_is_cut_in_the_terminal() {
        let mut test = TestReport::example("t.py::t", Verdict::Passed, &[]);
        test.pytest_warnings = vec![format!("t.py:1: UserWarning: {}", "x".repeat(10_000_000))];
        let session = SessionReport {
            tests: vec![test],
            ..SessionReport::default()
        };
        let lines = pytest_warning_lines(&session);
        assert_eq!(lines.len(), 4, "{:?}", &lines[2..]);
        assert_eq!(lines[0], "t.py::t");
        assert_eq!(lines[1].chars().count(), 2 + TERMINAL_CHARS);
        assert_eq!(
            lines[2],
            "  [cut: 9934485 more characters not shown; the JSON report (--json) has the whole text]"
        );
        assert_eq!(lines[3], "");
    }
}
