//! What running one test produced: the data every report is written from.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::diagnosis::Diagnosis;
use crate::model::repeatability::NotRepeatable;
use crate::model::resource_warning::ResourceWarning;
use crate::model::sanitize::os_text;
use crate::model::signal::{Sample, Signal};

/// A collected test, as the engine describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestItem {
    /// pytest's node id, relative to the rootdir: `dir/test_x.py::TestC::test_y`.
    pub nodeid: String,
    /// The file, relative to the rootdir with `/` separators.
    pub path: String,
    /// 1-based line of the test's definition (0 when unknown).
    pub line: u32,
    /// The test's own name (`test_y`, with a parametrize id if any).
    pub name: String,
    /// JUnit classname: dotted module path plus classes (`dir.test_x.TestC`).
    pub classname: String,
    /// Names `-k` matches against: the test, its classes, module file, folders.
    pub keywords: Vec<String>,
}

impl TestItem {
    /// What pytest heads a failure's section with: the test's classes and
    /// name, dotted (`TestC.test_y[1]`), so that a class's methods of the
    /// same name (unittest's `test_parser` in many files) are told apart.
    pub fn head_line(&self) -> String {
        let Some((_, within)) = self.nodeid.split_once("::") else {
            return self.name.clone();
        };
        // A parametrize id is the user's text, `::` included.
        let (path, id) = within.split_at(within.find('[').unwrap_or(within.len()));
        format!("{}{id}", path.replace("::", "."))
    }

    /// pytest's `path:line`, just the path when the line is unknown.
    pub fn location(&self) -> String {
        if self.line == 0 {
            self.path.clone()
        } else {
            format!("{}:{}", self.path, self.line)
        }
    }

    /// The one test that stands for a file skipped whole while it was
    /// imported: its node id is the file's path (`dir/test_x.py`), and it is
    /// named by its module (`dir.test_x`), as pytest's junitxml names it.
    pub fn skipped_file(path: &str, line: u32) -> TestItem {
        TestItem {
            nodeid: path.to_string(),
            path: path.to_string(),
            line,
            name: path.strip_suffix(".py").unwrap_or(path).replace('/', "."),
            classname: String::new(),
            keywords: path.split('/').map(str::to_string).collect(),
        }
    }

    /// Made by `skipped_file`: the only kind of item whose node id names no
    /// function.
    pub fn is_skipped_file(&self) -> bool {
        !self.nodeid.contains("::")
    }
}

/// How a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Passed,
    Failed,
    Error,
    Skipped,
    Leaked,
    /// Growth that was still ambiguous when the run cap was reached.
    Inconclusive,
    /// A leak an allow-list entry or the baseline accepts.
    Allowed,
    /// Failed as its `xfail` mark expects: not a failure.
    XFailed,
    /// Passed although marked `xfail` (not strict): not a failure, as with pytest.
    XPassed,
}

impl Verdict {
    /// The word pytest prints with `-v`.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Passed => "PASSED",
            Verdict::Failed => "FAILED",
            Verdict::Error => "ERROR",
            Verdict::Skipped => "SKIPPED",
            Verdict::Leaked => "LEAKED",
            Verdict::Inconclusive => "INCONCLUSIVE",
            Verdict::Allowed => "ALLOWED",
            Verdict::XFailed => "XFAIL",
            Verdict::XPassed => "XPASS",
        }
    }

    /// The progress character.
    pub fn letter(self) -> char {
        match self {
            Verdict::Passed => '.',
            Verdict::Failed => 'F',
            Verdict::Error => 'E',
            Verdict::Skipped => 's',
            Verdict::Leaked => 'L',
            Verdict::Inconclusive => '?',
            Verdict::Allowed => 'a',
            Verdict::XFailed => 'x',
            Verdict::XPassed => 'X',
        }
    }

    /// Does this verdict make the run exit non-zero?
    pub fn is_bad(self) -> bool {
        matches!(self, Verdict::Failed | Verdict::Error | Verdict::Leaked)
    }
}

/// An exception raised by a test (or its setup/teardown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Exception class name, e.g. `AssertionError`.
    pub kind: String,
    /// `str(exception)`.
    pub message: String,
    /// The formatted traceback.
    pub traceback: String,
    /// 1-based run on which it happened.
    pub run: usize,
    /// Where it happened: `call`, `setup` or `teardown`.
    pub phase: String,
}

impl Failure {
    /// `passed run 1, failed run 3: KeyError: 'x'`, or just `KeyError: 'x'` on run 1.
    pub fn summary(&self) -> String {
        let message = first_line(&self.message);
        let error = match (self.kind.is_empty(), message.is_empty()) {
            (true, _) => message.to_string(),
            (false, true) => self.kind.clone(),
            (false, false) => format!("{}: {message}", self.kind),
        };
        match self.run {
            0 | 1 => error,
            2 => format!("passed run 1, failed run 2: {error}"),
            n => format!("passed runs 1-{}, failed run {n}: {error}", n - 1),
        }
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// A signal that kept growing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Growth {
    pub signal: Signal,
    /// Average growth per judged run.
    pub per_run: f64,
}

/// Everything known about one test once it is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestReport {
    pub item: TestItem,
    pub verdict: Verdict,
    /// Runs executed, warm-ups included.
    pub runs: usize,
    /// Warm-up runs among them.
    pub warmup: usize,
    pub duration: Duration,
    pub failure: Option<Failure>,
    pub skip_reason: Option<String>,
    /// Signals that grew (for leaked and inconclusive tests).
    pub growth: Vec<Growth>,
    /// Samples taken after the warm-ups: the baseline, then one per judged run.
    pub series: Vec<Sample>,
    /// stdout and stderr the test wrote on the run that failed.
    pub captured: String,
    /// Why a leak is accepted (allow-list reasons, or the baseline).
    #[serde(default)]
    pub allowed: Option<String>,
    /// What the leak is made of (leaked tests only).
    pub diagnosis: Option<Diagnosis>,
    /// Resources the test dropped without closing them.
    pub resource_warnings: Vec<ResourceWarning>,
    /// Set when the test failed only because it was run again.
    #[serde(default)]
    pub not_repeatable: Option<NotRepeatable>,
    /// What pytest's final line would count of the test's one run, apart
    /// from its outcome: `("subtests passed", 3)`.
    #[serde(default)]
    pub pytest_counts: Vec<(String, usize)>,
    /// The messages of pytest's warnings of its first run but
    /// ResourceWarnings (which are `resource_warnings`), as pytest shows them.
    #[serde(default)]
    pub pytest_warnings: Vec<String>,
    /// Set when its judged runs took longer than this in all, and the
    /// verdict was decided with the runs they had (a slow test).
    #[serde(default)]
    pub out_of_time: Option<Duration>,
    /// Set when a leak's diagnosis found what grew held only through bounded
    /// caches: the test was run until they held only its own runs' entries,
    /// and judged again on fresh runs (`series` and the verdict are that
    /// judgement's).
    #[serde(default)]
    pub filled: Option<CacheFill>,
}

/// Runs a fill of bounded caches may take at most.
pub const MAX_FILL_RUNS: usize = 1000;
/// Time a fill may take at most, as a slow test's judged runs.
pub const MAX_FILL_TIME: Duration = Duration::from_secs(30);

/// Bounded caches a leaking test was run to fill before it was judged again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheFill {
    /// Each cache's name (`lru_cache of module.function`) and maxsize.
    pub caches: Vec<(String, usize)>,
    /// Runs made to fill them.
    pub runs: usize,
    /// They were full then; else the runs or the time allowed ran out first,
    /// and the verdict is the first judgement's.
    pub full: bool,
}

impl CacheFill {
    /// `lru_cache of m.f (maxsize 40)`, joined by "and".
    pub fn names(&self) -> String {
        self.caches
            .iter()
            .map(|(name, maxsize)| format!("{name} (maxsize {maxsize})"))
            .collect::<Vec<_>>()
            .join(" and ")
    }

    /// What the fill did, in the words every report uses.
    pub fn text(&self) -> String {
        let (names, runs) = (self.names(), self.runs);
        let (it, was) = match self.caches.len() {
            1 => ("a bounded cache holding what grew", "was"),
            _ => ("bounded caches holding what grew", "were"),
        };
        if self.full {
            format!(
                "judged again once {names}, {it}, {was} full of entries its runs made: \
                 {runs} more runs"
            )
        } else {
            format!(
                "{names}, {it}, would not be full of entries its runs made within \
                 {MAX_FILL_RUNS} runs or {} s ({runs} more tried): a bounded cache reads as \
                 a leak until then",
                MAX_FILL_TIME.as_secs()
            )
        }
    }
}

/// A warning pytest gave while it configured or collected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PytestWarning {
    /// Where, as pytest's warnings summary shows it: a node id, `path:line`,
    /// or empty.
    pub location: String,
    /// `path:line: Category: text` and the source line, as pytest shows it.
    pub message: String,
}

/// A file that could not be imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionError {
    /// The file, relative to the rootdir.
    pub path: String,
    /// The formatted traceback or reason.
    pub message: String,
}

/// The result of a whole session, in collection order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionReport {
    pub tests: Vec<TestReport>,
    pub collection_errors: Vec<CollectionError>,
    /// Warnings of pytest's configuration and collection.
    pub collection_warnings: Vec<PytestWarning>,
    pub duration: Duration,
    /// Set when the session was stopped before every test ran.
    pub interrupted: bool,
}

impl SessionReport {
    pub fn count(&self, verdict: Verdict) -> usize {
        self.tests.iter().filter(|t| t.verdict == verdict).count()
    }

    /// How the session went, as the final line's colour, the HTML report's
    /// tone and the exit code tell it.
    pub fn status(&self) -> SessionStatus {
        if self.tests.iter().any(|t| t.verdict.is_bad()) || !self.collection_errors.is_empty() {
            SessionStatus::Bad
        } else if self.count(Verdict::Inconclusive) > 0 || self.tests.is_empty() {
            SessionStatus::Warn
        } else {
            SessionStatus::Good
        }
    }
}

/// How a session went, decided once for every report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    /// A test failed, errored or leaked, or a file could not be collected.
    Bad,
    /// Nothing ran, or a verdict was inconclusive.
    Warn,
    Good,
}

/// A failed module or class teardown after the test turns a pass into an error
/// (a failure or leak already says enough).
pub fn apply_teardown(report: &mut TestReport, failure: Failure) {
    if matches!(report.verdict, Verdict::Passed | Verdict::Inconclusive) {
        report.verdict = Verdict::Error;
        report.growth.clear();
        report.failure = Some(failure);
    }
}

/// `--strict-resources`: a test that passed but dropped a resource unclosed fails.
pub fn fail_on_resource_warnings(report: &mut TestReport) {
    let Some(first) = report.resource_warnings.first() else {
        return;
    };
    if !matches!(report.verdict, Verdict::Passed | Verdict::Inconclusive) {
        return;
    }
    let mut traceback = String::new();
    for warning in &report.resource_warnings {
        traceback.push_str(&warning.line());
        traceback.push('\n');
        if let Some(source) = warning.opened.as_ref().map(|o| &o.source) {
            traceback.push_str(&format!("    {source}\n"));
        }
    }
    report.verdict = Verdict::Failed;
    report.growth.clear();
    report.failure = Some(Failure {
        kind: "ResourceWarning".to_string(),
        message: first.message.clone(),
        traceback,
        run: 0,
        phase: "call".to_string(),
    });
}

/// `file` relative to `rootdir`, with `/` separators, as pytest writes node ids.
pub fn relative_path(rootdir: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(rootdir).unwrap_or(file);
    relative
        .components()
        .map(|c| os_text(c.as_os_str()))
        .collect::<Vec<_>>()
        .join("/")
}

impl TestReport {
    /// A report of `verdict` for `item`, with nothing else known yet.
    pub fn new(item: TestItem, verdict: Verdict) -> TestReport {
        TestReport {
            item,
            verdict,
            runs: 0,
            warmup: 0,
            duration: Duration::ZERO,
            failure: None,
            skip_reason: None,
            growth: Vec::new(),
            series: Vec::new(),
            captured: String::new(),
            allowed: None,
            diagnosis: None,
            resource_warnings: Vec::new(),
            not_repeatable: None,
            pytest_counts: Vec::new(),
            pytest_warnings: Vec::new(),
            out_of_time: None,
            filled: None,
        }
    }
}

#[cfg(test)]
impl TestItem {
    /// A test for unit tests: `path::name` at line 1.
    pub fn example(path: &str, name: &str) -> TestItem {
        TestItem {
            nodeid: format!("{path}::{name}"),
            path: path.to_string(),
            line: 1,
            name: name.to_string(),
            classname: String::new(),
            keywords: Vec::new(),
        }
    }
}

#[cfg(test)]
impl TestReport {
    /// A report for unit tests: `nodeid` in `path` at line 12, with `growth`.
    pub fn example(nodeid: &str, verdict: Verdict, growth: &[(Signal, f64)]) -> TestReport {
        let path = nodeid.split("::").next().unwrap_or_default().to_string();
        let item = TestItem {
            nodeid: nodeid.to_string(),
            name: nodeid.rsplit("::").next().unwrap_or_default().to_string(),
            classname: path.trim_end_matches(".py").replace('/', "."),
            path,
            line: 12,
            keywords: Vec::new(),
        };
        TestReport {
            runs: 23,
            warmup: 3,
            growth: growth
                .iter()
                .map(|&(signal, per_run)| Growth { signal, per_run })
                .collect(),
            ..TestReport::new(item, verdict)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(nodeid: &str, name: &str) -> TestItem {
        TestItem {
            nodeid: nodeid.to_string(),
            path: "t/test_x.py".to_string(),
            line: 1,
            name: name.to_string(),
            classname: String::new(),
            keywords: Vec::new(),
        }
    }

    #[test]
    fn a_failures_head_line_is_its_classes_and_name_dotted_as_pytest_prints_it() {
        let head = |nodeid, name| item(nodeid, name).head_line();
        assert_eq!(head("t/test_x.py::test_y", "test_y"), "test_y");
        assert_eq!(
            head("t/test_x.py::ParserTestCase::test_parser", "test_parser"),
            "ParserTestCase.test_parser"
        );
        assert_eq!(
            head(
                "t/test_x.py::TestA::TestB::test_c[a::b-1]",
                "test_c[a::b-1]"
            ),
            "TestA.TestB.test_c[a::b-1]"
        );
        assert_eq!(head("t/test_x.py", "test_x.py"), "test_x.py");
    }

    #[test]
    fn a_fill_of_two_caches_names_both() {
        let fill = CacheFill {
            caches: vec![
                ("lru_cache of m.f".to_string(), 40),
                ("lru_cache of m.g".to_string(), 8),
            ],
            runs: 40,
            full: true,
        };
        assert_eq!(
            fill.text(),
            "judged again once lru_cache of m.f (maxsize 40) and lru_cache of m.g (maxsize 8), \
             bounded caches holding what grew, were full of entries its runs made: 40 more runs"
        );
        let unfilled = CacheFill {
            full: false,
            runs: 7,
            ..fill
        };
        assert_eq!(
            unfilled.text(),
            "lru_cache of m.f (maxsize 40) and lru_cache of m.g (maxsize 8), bounded caches \
             holding what grew, would not be full of entries its runs made within 1000 runs or \
             30 s (7 more tried): a bounded cache reads as a leak until then"
        );
    }
}
