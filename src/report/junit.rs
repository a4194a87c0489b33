//! The JUnit XML report, shaped like pytest's `junit_family=xunit2` output so CI
//! dashboards treat leakhunt's results like pytest's.
//!
//! Written in one pass with quick-xml's writer, which escapes attribute values;
//! bodies go in CDATA sections, split around any `]]>`. Every string goes
//! through our sanitiser ([`printable`]) on its way in, at [`attributes`] and
//! [`Xml::cdata`]. The layout is byte for byte the one junit-report (the
//! writer before this one) gave: no indentation, attributes in its order,
//! bodies in CDATA, `skipped` and the wall `time` on the suite.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use anyhow::Context;
use quick_xml::escape::escape;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesCData, BytesDecl, BytesEnd, BytesStart, Event};
use quick_xml::name::QName;
use quick_xml::Writer;

use crate::model::outcome::{CollectionError, Failure, SessionReport, TestReport, Verdict};
use crate::model::sanitize::printable;
use crate::report::atomic::write_atomically;
use crate::report::bounds::{self, BODY_CHARS};
use crate::report::explain::diagnosis_lines;
use crate::report::format::rates;

const SUITE_NAME: &str = "leakhunt";
const INTERRUPTED: &str = "interrupted: not every test ran";
const NOT_REPEATABLE: &str = "not-repeatable";
/// Series longer than this are shown as their head and tail.
const MAX_SHOWN: usize = 20;

/// Writes the report atomically (see [`write_atomically`]), creating the
/// parent folder if missing.
pub fn write_junit(session: &SessionReport, path: &Path) -> anyhow::Result<()> {
    let xml = render_junit(session)?;
    write_atomically(path, xml.as_bytes(), "JUnit report")
}

/// The JUnit XML for `session`.
pub fn render_junit(session: &SessionReport) -> anyhow::Result<String> {
    render(session, SystemTime::now(), &hostname())
}

/// [`render_junit`] with the suite's timestamp and host given.
fn render(session: &SessionReport, now: SystemTime, host: &str) -> anyhow::Result<String> {
    // pytest collects before it runs, so its collection errors come first.
    let cases: Vec<Case> = (session.collection_errors.iter().map(collection_case))
        .chain(session.tests.iter().map(test_case))
        .collect();
    let count = |wanted: fn(&Outcome) -> bool| cases.iter().filter(|c| wanted(&c.outcome)).count();
    let tests = cases.len().to_string();
    let errors = count(|o| {
        matches!(
            o,
            Outcome::Problem {
                problem: Problem::Error,
                ..
            }
        )
    });
    let failures = count(|o| {
        matches!(
            o,
            Outcome::Problem {
                problem: Problem::Failure,
                ..
            }
        )
    });
    // Skips and xfails, as pytest counts them.
    let skipped = count(|o| matches!(o, Outcome::Skipped { .. }));
    let package = format!("testsuite/{SUITE_NAME}");
    let timestamp = timestamp(now);
    // The session's wall time, not the sum of the tests' times.
    let time = format!("{:.3}", session.duration.as_secs_f64());
    let suite = attributes(
        "testsuite",
        &[
            ("id", "0"),
            ("name", SUITE_NAME),
            ("package", &package),
            ("tests", &tests),
            ("errors", &errors.to_string()),
            ("failures", &failures.to_string()),
            ("hostname", host),
            ("timestamp", &timestamp),
            ("skipped", &skipped.to_string()),
            ("time", &time),
        ],
    );

    let mut xml = Xml(Writer::new(Vec::new()));
    xml.write(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    xml.write(Event::Start(BytesStart::new("testsuites")))?;
    if cases.is_empty() && !session.interrupted {
        xml.write(Event::Empty(suite))?;
    } else {
        xml.write(Event::Start(suite))?;
        for case in &cases {
            xml.case(case)?;
        }
        if session.interrupted {
            xml.cdata_element(BytesStart::new("system-out"), INTERRUPTED)?;
        }
        xml.write(Event::End(BytesEnd::new("testsuite")))?;
    }
    xml.write(Event::End(BytesEnd::new("testsuites")))?;
    String::from_utf8(xml.0.into_inner()).context("the JUnit writer produced invalid UTF-8")
}

/// One `<testcase>`, its strings as they are (the writer sanitises them).
struct Case {
    name: String,
    /// Already rounded to milliseconds.
    time: Duration,
    classname: String,
    outcome: Outcome,
    /// Last in the testcase.
    system_out: Option<String>,
}

enum Outcome {
    Passed,
    /// `<failure>` or `<error>`.
    Problem {
        problem: Problem,
        kind: String,
        message: String,
        /// Already made by [`failure_body`].
        body: String,
    },
    /// pytest's `<skipped type="pytest.skip" message="reason">path:line: reason</skipped>`,
    /// or for an xfail its bodiless `<skipped type="pytest.xfail" message="reason"/>`.
    Skipped {
        kind: &'static str,
        message: String,
        body: Option<String>,
    },
}

#[derive(Clone, Copy)]
enum Problem {
    Failure,
    Error,
}

impl Problem {
    fn element(self) -> &'static str {
        match self {
            Problem::Failure => "failure",
            Problem::Error => "error",
        }
    }
}

fn test_case(test: &TestReport) -> Case {
    // A note on a passing test, shown before what the test printed.
    let mut note = None;
    let outcome = match test.verdict {
        Verdict::Passed | Verdict::XPassed => Outcome::Passed,
        Verdict::Inconclusive => {
            note = Some(inconclusive_note(test));
            Outcome::Passed
        }
        Verdict::Allowed => {
            // An accepted leak passes the gate; the note keeps it visible.
            note = Some(format!(
                "allowed leak: {} ({})\n{}",
                rates(&test.growth),
                test.allowed.as_deref().unwrap_or("accepted"),
                leak_body(test)
            ));
            Outcome::Passed
        }
        Verdict::Failed => {
            let (message, traceback) = match &test.failure {
                Some(failure) => (failure.summary(), failure.traceback.as_str()),
                None => ("failed".to_owned(), ""),
            };
            let kind = test.failure.as_ref().map_or("", |f| f.kind.as_str());
            let (kind, traceback) = with_repeatability(test, kind, traceback);
            Outcome::Problem {
                problem: Problem::Failure,
                kind: kind.to_owned(),
                message,
                body: failure_body(&traceback),
            }
        }
        Verdict::Error => {
            let (message, traceback) = match &test.failure {
                Some(failure) => (error_message(failure), failure.traceback.as_str()),
                None => ("error".to_owned(), ""),
            };
            let kind = test.failure.as_ref().map_or("", |f| f.kind.as_str());
            let (kind, traceback) = with_repeatability(test, kind, traceback);
            Outcome::Problem {
                problem: Problem::Error,
                kind: kind.to_owned(),
                message,
                body: failure_body(&traceback),
            }
        }
        Verdict::Leaked => Outcome::Problem {
            problem: Problem::Failure,
            kind: "leak".to_owned(),
            message: leak_message(test),
            body: failure_body(&leak_body(test)),
        },
        Verdict::Skipped | Verdict::XFailed => skipped(test),
    };
    let captured = (!test.captured.is_empty()).then_some(test.captured.as_str());
    let system_out = match (note, captured) {
        (Some(note), Some(captured)) => Some(format!("{note}\n{captured}")),
        (note, captured) => note.or(captured.map(str::to_owned)),
    };
    Case {
        name: test.item.name.clone(),
        time: case_time(test.duration),
        classname: test.item.classname.clone(),
        outcome,
        system_out,
    }
}

/// pytest names a module that failed to import by its dotted path, with an
/// empty classname.
fn collection_case(error: &CollectionError) -> Case {
    Case {
        name: dotted_module(&error.path),
        time: Duration::ZERO,
        classname: String::new(),
        // pytest writes no `type`; ours has always been there, empty.
        outcome: Outcome::Problem {
            problem: Problem::Error,
            kind: String::new(),
            message: "collection failure".to_owned(),
            body: failure_body(&error.message),
        },
        system_out: None,
    }
}

/// `dir/test_x.py` -> `dir.test_x`, as pytest's `mangle_test_address` does.
fn dotted_module(path: &str) -> String {
    path.strip_suffix(".py").unwrap_or(path).replace('/', ".")
}

/// A test that failed only because it ran again gets its own type,
/// `not-repeatable`, and its body starts by saying how (the exception's
/// type stays in the message).
fn with_repeatability<'a>(test: &TestReport, kind: &'a str, traceback: &str) -> (&'a str, String) {
    match &test.not_repeatable {
        Some(not_repeatable) => (
            NOT_REPEATABLE,
            format!("{}\n{traceback}", not_repeatable.describe()),
        ),
        None => (kind, traceback.to_owned()),
    }
}

/// pytest's wording for an error outside the test body.
fn error_message(failure: &Failure) -> String {
    match failure.phase.as_str() {
        "setup" | "teardown" => {
            format!("failed on {} with \"{}\"", failure.phase, failure.summary())
        }
        _ => failure.summary(),
    }
}

fn leak_message(test: &TestReport) -> String {
    if test.growth.is_empty() {
        "leaked".to_owned()
    } else {
        format!("leaked: {}", rates(&test.growth))
    }
}

/// The first line is `path:line: ...` so GitHub and GitLab annotate the line
/// that allocated what leaked, else the test.
fn leak_body(test: &TestReport) -> String {
    let culprit = test.diagnosis.as_ref().and_then(|d| d.culprit());
    let place = culprit.map_or_else(|| test.item.location(), |at| at.at());
    let mut body = format!("{place}: {} leaked\n", test.item.nodeid);
    body.push_str(&series_lines(test));
    let _ = writeln!(body, "runs: {} ({} warm-up)", test.runs, test.warmup);
    for line in diagnosis_lines(test) {
        body.push_str(&line);
        body.push('\n');
    }
    body
}

fn inconclusive_note(test: &TestReport) -> String {
    let growth = if test.growth.is_empty() {
        String::new()
    } else {
        format!(" of {}", rates(&test.growth))
    };
    let time = match test.out_of_time {
        Some(budget) => format!(
            ", when its judged runs had taken over {} s",
            budget.as_secs()
        ),
        None => String::new(),
    };
    let mut note = format!(
        "inconclusive: growth{growth} still ambiguous after {} runs{time}\n",
        test.runs
    );
    note.push_str(&series_lines(test));
    note
}

/// One line per growing signal: its samples, then the step from each to the next.
fn series_lines(test: &TestReport) -> String {
    let mut lines = String::new();
    for growth in &test.growth {
        let values: Vec<i64> = test.series.iter().map(|s| s.get(growth.signal)).collect();
        let _ = write!(
            lines,
            "{}: {}",
            growth.signal,
            shorten(values.iter().map(i64::to_string).collect())
        );
        if values.len() > 1 {
            let deltas = values
                .windows(2)
                .map(|pair| format!("{:+}", pair[1].saturating_sub(pair[0])))
                .collect();
            let _ = write!(lines, " (deltas {})", shorten(deltas));
        }
        lines.push('\n');
    }
    lines
}

/// Joins `items`, keeping only the head and tail of a long list: the shape of a
/// series is what matters, and hundreds of runs would make an unreadable line.
fn shorten(items: Vec<String>) -> String {
    if items.len() <= MAX_SHOWN {
        return items.join(" ");
    }
    let half = MAX_SHOWN / 2;
    format!(
        "{} ... {}",
        items[..half].join(" "),
        items[items.len() - half..].join(" ")
    )
}

/// pytest's skip: `<skipped type="pytest.skip" message="reason">path:line: reason</skipped>`.
fn skipped(test: &TestReport) -> Outcome {
    let reason = test.skip_reason.as_deref().unwrap_or("");
    if test.verdict == Verdict::XFailed {
        // pytest writes an xfail as a bodiless skip of its own type.
        let reason = reason.strip_prefix("reason: ").unwrap_or(reason);
        return Outcome::Skipped {
            kind: "pytest.xfail",
            message: reason.to_owned(),
            body: None,
        };
    }
    let details = if reason.is_empty() {
        test.item.location()
    } else {
        format!("{}: {reason}", test.item.location())
    };
    Outcome::Skipped {
        kind: "pytest.skip",
        message: reason.to_owned(),
        body: Some(details),
    }
}

/// A body for `<failure>`/`<error>`, sanitised, with carriage returns and
/// tabs turned into what a terminal would show (junit-report dropped them
/// there), and cut at [`BODY_CHARS`]. Tab stops count the text as read,
/// before any `]]>` is split.
fn failure_body(text: &str) -> String {
    let text = printable(text).replace("\r\n", "\n").replace('\r', "\n");
    bounds::body(&expand_tabs(&text), BODY_CHARS).into_owned()
}

/// `text` sanitised and cut at [`BODY_CHARS`], so that no CDATA section
/// outgrows what XML parsers accept in one node.
fn bounded_body(text: &str) -> String {
    bounds::body(&printable(text), BODY_CHARS).into_owned()
}

/// Tabs to spaces, with a stop every 8 columns.
fn expand_tabs(text: &str) -> String {
    if !text.contains('\t') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut column = 0;
    for c in text.chars() {
        match c {
            '\t' => {
                let width = 8 - column % 8;
                out.extend(std::iter::repeat_n(' ', width));
                column += width;
            }
            '\n' => {
                out.push(c);
                column = 0;
            }
            _ => {
                out.push(c);
                column += 1;
            }
        }
    }
    out
}

/// Test durations in milliseconds, like pytest's `%.3f`.
fn case_time(duration: Duration) -> Duration {
    let millis = duration.as_micros().saturating_add(500) / 1000;
    Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
}

/// `time` in RFC 3339, in UTC, with as many digits of the second as it needs
/// (none for a whole second): `2023-11-14T22:13:20.5Z`, as junit-report wrote it.
fn timestamp(time: SystemTime) -> String {
    let time = OffsetDateTime::from(time.max(UNIX_EPOCH));
    time.format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

fn hostname() -> String {
    let from_proc = fs::read_to_string("/proc/sys/kernel/hostname").ok();
    [from_proc, std::env::var("HOSTNAME").ok()]
        .into_iter()
        .flatten()
        .map(|name| name.trim().to_owned())
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// A start tag with `attributes` in order, each value sanitised and escaped
/// (`<`, `>`, `&` and quotes; line ends and tabs stay as they are).
fn attributes<'a>(name: &'a str, attributes: &[(&str, &str)]) -> BytesStart<'a> {
    let mut tag = BytesStart::new(name);
    for &(key, value) in attributes {
        tag.push_attribute((key, printable(value).as_str()));
    }
    tag
}

/// An attribute sanitised and escaped like those of [`attributes`], and
/// line ends and tabs as character references, so that a multi-line value
/// survives attribute-value normalisation.
fn attribute_keeping_whitespace<'a>(key: &'a str, value: &str) -> Attribute<'a> {
    let mut escaped = String::new();
    for c in escape(printable(value)).chars() {
        match c {
            '\n' => escaped.push_str("&#10;"),
            '\r' => escaped.push_str("&#13;"),
            '\t' => escaped.push_str("&#9;"),
            _ => escaped.push(c),
        }
    }
    Attribute {
        key: QName(key.as_bytes()),
        value: escaped.into_bytes().into(),
    }
}

/// quick-xml's writer, unindented, over a byte buffer.
struct Xml(Writer<Vec<u8>>);

impl Xml {
    fn write<'a>(&mut self, event: impl Into<Event<'a>>) -> anyhow::Result<()> {
        self.0
            .write_event(event)
            .context("serialising the JUnit report")
    }

    /// `<testcase>`, closed at once when there is nothing to put in it.
    fn case(&mut self, case: &Case) -> anyhow::Result<()> {
        // The shortest decimal that reads back as the same f64: `0`, `12.346`.
        let time = case.time.as_secs_f64().to_string();
        let tag = attributes(
            "testcase",
            &[
                ("name", &case.name),
                ("time", &time),
                ("classname", &case.classname),
            ],
        );
        if matches!(case.outcome, Outcome::Passed) && case.system_out.is_none() {
            return self.write(Event::Empty(tag));
        }
        self.write(Event::Start(tag))?;
        match &case.outcome {
            Outcome::Passed => {}
            Outcome::Problem {
                problem,
                kind,
                message,
                body,
            } => {
                let message = bounds::summary(&printable(message)).into_owned();
                let tag = attributes(problem.element(), &[("type", kind), ("message", &message)]);
                self.cdata_element(tag, body)?;
            }
            Outcome::Skipped {
                kind,
                message,
                body,
            } => {
                let mut tag = attributes("skipped", &[("type", kind)]);
                let message = bounds::summary(&printable(message)).into_owned();
                tag.push_attribute(attribute_keeping_whitespace("message", &message));
                match body {
                    Some(body) => self.cdata_element(tag, &bounded_body(body))?,
                    None => self.write(Event::Empty(tag))?,
                }
            }
        }
        if let Some(system_out) = &case.system_out {
            self.cdata_element(BytesStart::new("system-out"), &bounded_body(system_out))?;
        }
        self.write(Event::End(BytesEnd::new("testcase")))
    }

    /// `tag`, then `text` as its body, then its end tag.
    fn cdata_element(&mut self, tag: BytesStart, text: &str) -> anyhow::Result<()> {
        let end = tag.to_end().into_owned();
        self.write(Event::Start(tag))?;
        self.cdata(text)?;
        self.write(Event::End(end))
    }

    /// `text` sanitised, in CDATA: one section, or one more for each `]]>`,
    /// split between `]]` and `>` as [`for_xml`](crate::model::sanitize::for_xml)
    /// splits it.
    fn cdata(&mut self, text: &str) -> anyhow::Result<()> {
        for section in BytesCData::escaped(&printable(text)) {
            self.write(Event::CData(section))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::{Growth, TestItem};
    use crate::model::repeatability::NotRepeatable;
    use crate::model::sanitize::for_xml;
    use crate::model::signal::{Sample, Signal};
    use std::process::Command;

    const NASTY: &str = "\x1b[31mred\x1b[0m nul\0 end]]> <tag> & \"q\"";

    fn item(name: &str) -> TestItem {
        TestItem {
            nodeid: format!("pkg/test_x.py::TestC::{name}"),
            path: "pkg/test_x.py".to_owned(),
            line: 12,
            name: name.to_owned(),
            classname: "pkg.test_x.TestC".to_owned(),
            keywords: Vec::new(),
        }
    }

    fn report(name: &str, verdict: Verdict) -> TestReport {
        let mut report = TestReport::example("pkg/test_x.py::TestC::x", verdict, &[]);
        report.item = item(name);
        report.runs = 13;
        report.duration = Duration::from_micros(12_345_600);
        report
    }

    fn sample(objects: i64, bytes: i64) -> Sample {
        let mut sample = Sample::default();
        sample.0[Signal::Objects.index()] = objects;
        sample.0[Signal::Bytes.index()] = bytes;
        sample
    }

    fn leaking(name: &str, verdict: Verdict) -> TestReport {
        let mut leaked = report(name, verdict);
        leaked.growth = vec![
            Growth {
                signal: Signal::Objects,
                per_run: 1.0,
            },
            Growth {
                signal: Signal::Bytes,
                per_run: 416.0,
            },
        ];
        leaked.series = vec![
            sample(120, 1000),
            sample(121, 1416),
            sample(122, 1832),
            sample(123, 2248),
        ];
        leaked
    }

    /// A test of each verdict, with hostile strings wherever a test controls one.
    fn session() -> SessionReport {
        let passed = report("test_ok", Verdict::Passed);
        let mut chatty = report("test_chatty", Verdict::Passed);
        chatty.captured = format!("hello {NASTY}");

        let mut failed = report("test_fail", Verdict::Failed);
        failed.failure = Some(Failure {
            kind: "AssertionError".to_owned(),
            message: format!("assert 1 == 2 {NASTY}\nsecond line"),
            traceback: format!("Traceback:\n\tassert 1 == 2\n{NASTY}\r\nlast"),
            run: 3,
            phase: "call".to_owned(),
        });
        failed.captured = format!("printed {NASTY}");

        let mut again = report("test_again", Verdict::Failed);
        again.failure = Some(Failure {
            kind: "KeyError".to_owned(),
            message: "'k'".to_owned(),
            traceback: "KeyError: 'k'".to_owned(),
            run: 2,
            phase: "call".to_owned(),
        });
        again.not_repeatable = Some(NotRepeatable::FailsWhenRepeated { run: 2 });

        let mut error = report("test_setup", Verdict::Error);
        error.failure = Some(Failure {
            kind: "ValueError".to_owned(),
            message: "bad fixture".to_owned(),
            traceback: "fixture traceback".to_owned(),
            run: 1,
            phase: "setup".to_owned(),
        });

        let mut skipped = report("test_skip", Verdict::Skipped);
        skipped.skip_reason = Some(format!("no network {NASTY}\nretry"));
        skipped.captured = "skip output".to_owned();

        let mut xfailed = report("test_xfail", Verdict::XFailed);
        xfailed.skip_reason = Some("reason: known <bug>\tsee\r\n#1".to_owned());

        let xpassed = report("test_xpass", Verdict::XPassed);

        let leaked = leaking("test_leak[a]", Verdict::Leaked);
        let mut allowed = leaking("test_allowed", Verdict::Allowed);
        allowed.allowed = Some("baseline".to_owned());
        allowed.captured = "allowed output\n".to_owned();

        let mut inconclusive = report("test_maybe", Verdict::Inconclusive);
        inconclusive.out_of_time = Some(Duration::from_secs(30));
        inconclusive.growth = vec![Growth {
            signal: Signal::Rss,
            per_run: 262_144.0,
        }];
        inconclusive.series = vec![sample(0, 0), sample(0, 0)];
        inconclusive.series[1].0[Signal::Rss.index()] = 262_144;

        SessionReport {
            tests: vec![
                passed,
                chatty,
                failed,
                again,
                error,
                skipped,
                xfailed,
                xpassed,
                leaked,
                allowed,
                inconclusive,
            ],
            collection_errors: vec![CollectionError {
                path: "pkg/test_broken.py".to_owned(),
                message: format!("ImportError {NASTY}"),
            }],
            duration: Duration::from_millis(61_500),
            interrupted: true,
            ..SessionReport::default()
        }
    }

    /// 2023-11-14T22:13:20.5Z, and a host name that needs sanitising.
    fn render_fixed(session: &SessionReport) -> String {
        let now = UNIX_EPOCH + Duration::from_millis(1_700_000_000_500);
        render(session, now, "build host\x07 <1>").unwrap()
    }

    fn xmllint(path: &Path) -> Option<std::process::Output> {
        let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema/junit.xsd");
        match Command::new("xmllint")
            .args(["--noout", "--schema"])
            .arg(&schema)
            .arg(path)
            .output()
        {
            Ok(output) => Some(output),
            Err(error) => {
                println!("note: xmllint not runnable ({error}); schema check skipped");
                None
            }
        }
    }

    fn xpath(path: &Path, expression: &str) -> Option<String> {
        let output = Command::new("xmllint")
            .args(["--xpath", expression])
            .arg(path)
            .output()
            .ok()?;
        assert!(output.status.success(), "xpath {expression} failed");
        // xmllint ends its answer with a newline of its own.
        let text = String::from_utf8(output.stdout).unwrap();
        Some(text.strip_suffix('\n').unwrap_or(&text).to_owned())
    }

    #[test]
    fn module_paths_are_dotted() {
        assert_eq!(dotted_module("dir/test_x.py"), "dir.test_x");
        assert_eq!(dotted_module("test_y.py"), "test_y");
    }

    #[test]
    fn long_series_keep_head_and_tail() {
        let items: Vec<String> = (0..30).map(|i| i.to_string()).collect();
        assert_eq!(
            shorten(items),
            "0 1 2 3 4 5 6 7 8 9 ... 20 21 22 23 24 25 26 27 28 29"
        );
        assert_eq!(shorten(vec!["1".into(), "2".into()]), "1 2");
    }

    #[test]
    fn tabs_expand_to_stops() {
        assert_eq!(expand_tabs("a\tb\n\tc"), "a       b\n        c");
        // Stops are counted on the text the reader sees, not on the markup
        // that splits a `]]>` across CDATA sections.
        assert_eq!(failure_body("]]>\tx\r\n\ty"), "]]>     x\n        y");
    }

    #[test]
    fn timestamps_are_rfc3339_in_utc() {
        let at = |seconds, nanos| timestamp(UNIX_EPOCH + Duration::new(seconds, nanos));
        assert_eq!(at(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(at(1_700_000_000, 500_000_000), "2023-11-14T22:13:20.5Z");
        assert_eq!(at(951_868_799, 1), "2000-02-29T23:59:59.000000001Z");
        assert_eq!(
            at(951_868_800, 123_456_789),
            "2000-03-01T00:00:00.123456789Z"
        );
        assert_eq!(at(4_107_542_400, 0), "2100-03-01T00:00:00Z");
        assert_eq!(at(253_402_300_799, 0), "9999-12-31T23:59:59Z");
        // A clock before the epoch reads as the epoch.
        assert_eq!(
            timestamp(UNIX_EPOCH - Duration::from_secs(1)),
            "1970-01-01T00:00:00Z"
        );
    }

    #[test]
    fn cdata_is_split_as_for_xml_splits_it() {
        for text in ["", "a", "]]>", "x]]>y]]>", "]]]>>", "]]", ">", NASTY] {
            let mut xml = Xml(Writer::new(Vec::new()));
            xml.cdata(text).unwrap();
            let written = String::from_utf8(xml.0.into_inner()).unwrap();
            assert_eq!(
                written,
                format!("<![CDATA[{}]]>", for_xml(text)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn attributes_are_sanitised_and_escaped() {
        let mut xml = Xml(Writer::new(Vec::new()));
        let mut tag = attributes("t", &[("a", "<&>\"' \t\r\n\x1b[1m\0")]);
        tag.push_attribute(attribute_keeping_whitespace("b", "<&>\"' \t\r\n\x1b[1m\0"));
        xml.write(Event::Empty(tag)).unwrap();
        assert_eq!(
            String::from_utf8(xml.0.into_inner()).unwrap(),
            // Line ends and tabs stay raw in `a`, as they always have. quick-xml
            // 0.42 writes `\r` as `&#13;`: moving to it changes the output.
            "<t a=\"&lt;&amp;&gt;&quot;&apos; \t\r\n#x00\" \
             b=\"&lt;&amp;&gt;&quot;&apos; &#9;&#13;&#10;#x00\"/>"
        );
    }

    #[test]
    fn renders_every_verdict() {
        let xml = render_fixed(&session());
        assert_eq!(xml, EXPECTED, "got\n{xml}");
        assert!(!xml.contains('\x1b') && !xml.contains('\0'));
    }

    #[test]
    fn output_validates_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.xml");
        fs::write(&path, render_junit(&session()).unwrap()).unwrap();
        let Some(output) = xmllint(&path) else {
            return;
        };
        assert!(
            output.status.success(),
            "schema check failed: {}\n{}",
            String::from_utf8_lossy(&output.stderr),
            fs::read_to_string(&path).unwrap()
        );
        // What a CI tool reads back: `]]>` intact, markup characters as text.
        let body = xpath(&path, "string(//testcase[@name='test_fail']/failure)").unwrap();
        assert_eq!(
            body,
            "Traceback:\n        assert 1 == 2\nred nul#x00 end]]> <tag> & \"q\"\nlast"
        );
        let message = xpath(
            &path,
            "string(//testcase[@name='test_skip']/skipped/@message)",
        );
        assert_eq!(
            message.unwrap(),
            "no network red nul#x00 end]]> <tag> & \"q\"\nretry"
        );
    }

    /// A 10 MB failure (in its message, and again in its traceback) and a
    /// 10 MB skip reason: each `message` is one summary of
    /// [`SUMMARY_CHARS`], each body the first [`BODY_CHARS`] characters and
    /// what was cut, and the file is one XML parsers accept.
    #[test]
    fn huge_texts_are_cut_to_a_summary_and_a_bounded_body() {
        use crate::report::bounds::SUMMARY_CHARS;
        // Two bytes each: a cut by bytes would split one.
        let huge = "é".repeat(10_000_000);
        let mut failed = report("test_huge", Verdict::Failed);
        failed.failure = Some(Failure {
            kind: "AssertionError".to_owned(),
            message: huge.clone(),
            traceback: format!("Traceback:\n{huge}"),
            run: 1,
            phase: "call".to_owned(),
        });
        let mut skipped = report("test_skip", Verdict::Skipped);
        skipped.skip_reason = Some(huge.clone());
        let session = SessionReport {
            tests: vec![failed, skipped],
            ..SessionReport::default()
        };
        let xml = render_fixed(&session);

        // "AssertionError: " is 16 characters, "Traceback:\n" 11, and
        // "pkg/test_x.py:12: " 18.
        let message = format!(
            "AssertionError: {}… [cut: {} more characters]",
            "é".repeat(SUMMARY_CHARS - 16),
            10_000_000 - (SUMMARY_CHARS - 16)
        );
        let cut = |left: usize| {
            format!(
                "\n[cut: {left} more characters not shown; \
                 the JSON report (--json) has the whole text]"
            )
        };
        let body = format!(
            "Traceback:\n{}{}",
            "é".repeat(BODY_CHARS - 11),
            cut(10_000_000 - (BODY_CHARS - 11))
        );
        let reason = format!(
            "{}… [cut: {} more characters]",
            "é".repeat(SUMMARY_CHARS),
            10_000_000 - SUMMARY_CHARS
        );
        let details = format!(
            "pkg/test_x.py:12: {}{}",
            "é".repeat(BODY_CHARS - 18),
            cut(10_000_000 - (BODY_CHARS - 18))
        );
        let expected = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><testsuites><testsuite id=\"0\" \
             name=\"leakhunt\" package=\"testsuite/leakhunt\" tests=\"2\" errors=\"0\" \
             failures=\"1\" hostname=\"build host#x07 &lt;1&gt;\" \
             timestamp=\"2023-11-14T22:13:20.5Z\" skipped=\"1\" time=\"0.000\">\
             <testcase name=\"test_huge\" time=\"12.346\" classname=\"pkg.test_x.TestC\">\
             <failure type=\"AssertionError\" message=\"{message}\"><![CDATA[{body}]]></failure>\
             </testcase>\
             <testcase name=\"test_skip\" time=\"12.346\" classname=\"pkg.test_x.TestC\">\
             <skipped type=\"pytest.skip\" message=\"{reason}\"><![CDATA[{details}]]></skipped>\
             </testcase></testsuite></testsuites>"
        );
        // Not assert_eq!: a failure would print 40 MB.
        assert!(
            xml == expected,
            "{} bytes, not {}",
            xml.len(),
            expected.len()
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.xml");
        fs::write(&path, &xml).unwrap();
        if let Some(output) = xmllint(&path) {
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }

    #[test]
    fn empty_session_validates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.xml");
        let xml = render_fixed(&SessionReport::default());
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><testsuites><testsuite id=\"0\" \
             name=\"leakhunt\" package=\"testsuite/leakhunt\" tests=\"0\" errors=\"0\" \
             failures=\"0\" hostname=\"build host#x07 &lt;1&gt;\" \
             timestamp=\"2023-11-14T22:13:20.5Z\" skipped=\"0\" time=\"0.000\"/></testsuites>"
        );
        fs::write(&path, xml).unwrap();
        if let Some(output) = xmllint(&path) {
            assert!(output.status.success(), "{output:?}");
        }
        let interrupted = SessionReport {
            interrupted: true,
            ..SessionReport::default()
        };
        assert!(render_fixed(&interrupted).ends_with(
            " skipped=\"0\" time=\"0.000\"><system-out><![CDATA[interrupted: not every test ran]]>\
             </system-out></testsuite></testsuites>"
        ));
    }

    #[test]
    fn write_puts_the_rendered_report_at_the_path() {
        // Atomicity, folders and mode are `write_atomically`'s, tested there.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/junit.xml");
        write_junit(&SessionReport::default(), &path).unwrap();
        let written = fs::read_to_string(&path).unwrap();
        assert_eq!(
            written.split(" timestamp=").next(),
            render_junit(&SessionReport::default())
                .unwrap()
                .split(" timestamp=")
                .next()
        );
    }

    /// [`session`] as [`render_fixed`] renders it: byte for byte what the
    /// junit-report writer and its patching wrote (with this host and time).
    const EXPECTED: &str = concat!(
        r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite id="0" name="leakhunt" package="testsuite/leakhunt" tests="12" errors="2" failures="3" hostname="build host#x07 &lt;1&gt;" timestamp="2023-11-14T22:13:20.5Z" skipped="2" time="61.500">"#,
        r#"<testcase name="pkg.test_broken" time="0" classname=""><error type="" message="collection failure"><![CDATA[ImportError red nul#x00 end]]]]><![CDATA[> <tag> & "q"]]></error></testcase>"#,
        r#"<testcase name="test_ok" time="12.346" classname="pkg.test_x.TestC"/>"#,
        r#"<testcase name="test_chatty" time="12.346" classname="pkg.test_x.TestC"><system-out><![CDATA[hello red nul#x00 end]]]]><![CDATA[> <tag> & "q"]]></system-out></testcase>"#,
        r#"<testcase name="test_fail" time="12.346" classname="pkg.test_x.TestC"><failure type="AssertionError" message="passed runs 1-2, failed run 3: AssertionError: assert 1 == 2 red nul#x00 end]]&gt; &lt;tag&gt; &amp; &quot;q&quot;"><![CDATA[Traceback:
        assert 1 == 2
red nul#x00 end]]]]><![CDATA[> <tag> & "q"
last]]></failure><system-out><![CDATA[printed red nul#x00 end]]]]><![CDATA[> <tag> & "q"]]></system-out></testcase>"#,
        r#"<testcase name="test_again" time="12.346" classname="pkg.test_x.TestC"><failure type="not-repeatable" message="passed run 1, failed run 2: KeyError: &apos;k&apos;"><![CDATA[not repeatable: passes, then fails when run again (run 2)
KeyError: 'k']]></failure></testcase>"#,
        r#"<testcase name="test_setup" time="12.346" classname="pkg.test_x.TestC"><error type="ValueError" message="failed on setup with &quot;ValueError: bad fixture&quot;"><![CDATA[fixture traceback]]></error></testcase>"#,
        r#"<testcase name="test_skip" time="12.346" classname="pkg.test_x.TestC"><skipped type="pytest.skip" message="no network red nul#x00 end]]&gt; &lt;tag&gt; &amp; &quot;q&quot;&#10;retry"><![CDATA[pkg/test_x.py:12: no network red nul#x00 end]]]]><![CDATA[> <tag> & "q"
retry]]></skipped><system-out><![CDATA[skip output]]></system-out></testcase>"#,
        r#"<testcase name="test_xfail" time="12.346" classname="pkg.test_x.TestC"><skipped type="pytest.xfail" message="known &lt;bug&gt;&#9;see&#13;&#10;#1"/></testcase>"#,
        r#"<testcase name="test_xpass" time="12.346" classname="pkg.test_x.TestC"/>"#,
        r#"<testcase name="test_leak[a]" time="12.346" classname="pkg.test_x.TestC"><failure type="leak" message="leaked: +1 objects/run, +416 B/run"><![CDATA[pkg/test_x.py:12: pkg/test_x.py::TestC::test_leak[a] leaked
objects: 120 121 122 123 (deltas +1 +1 +1)
bytes: 1000 1416 1832 2248 (deltas +416 +416 +416)
runs: 13 (3 warm-up)
]]></failure></testcase>"#,
        r#"<testcase name="test_allowed" time="12.346" classname="pkg.test_x.TestC"><system-out><![CDATA[allowed leak: +1 objects/run, +416 B/run (baseline)
pkg/test_x.py:12: pkg/test_x.py::TestC::test_allowed leaked
objects: 120 121 122 123 (deltas +1 +1 +1)
bytes: 1000 1416 1832 2248 (deltas +416 +416 +416)
runs: 13 (3 warm-up)

allowed output
]]></system-out></testcase>"#,
        r#"<testcase name="test_maybe" time="12.346" classname="pkg.test_x.TestC"><system-out><![CDATA[inconclusive: growth of +256.0 KiB rss/run still ambiguous after 13 runs, when its judged runs had taken over 30 s
rss: 0 262144 (deltas +262144)
]]></system-out></testcase>"#,
        r#"<system-out><![CDATA[interrupted: not every test ran]]></system-out></testsuite></testsuites>"#,
    );
}
