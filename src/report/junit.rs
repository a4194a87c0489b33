//! The JUnit XML report, shaped like pytest's `junit_family=xunit2` output so CI
//! dashboards treat leakhunt's results like pytest's.
//!
//! junit-report 0.8 writes the skeleton. It cannot write a `skipped` count on the
//! suite, a message on `<skipped>`, or a `<system-out>` next to a `<failure>`, and
//! its suite `time` is the sum of the test times rather than the wall time. Those
//! are patched into its output afterwards, by walking the markup outside CDATA
//! sections; the patch fails loudly if the output stops looking as expected.

use std::fmt::Write as _;
use std::fs;
use std::ops::Range;
use std::path::Path;

use anyhow::{bail, Context};
use junit_report::{Duration, Report, TestCase, TestSuite};

use crate::model::outcome::{
    CollectionError, Failure, SessionReport, TestItem, TestReport, Verdict,
};
use crate::model::sanitize::{for_xml, printable};
use crate::report::atomic::write_atomically;
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
    let mut suite = TestSuite::new(SUITE_NAME);
    suite.hostname = printable(&hostname());
    let mut extras = Vec::new();
    // pytest collects before it runs, so its collection errors come first.
    for error in &session.collection_errors {
        suite.add_testcase(collection_case(error));
        extras.push(Extra::default());
    }
    for test in &session.tests {
        let (case, extra) = test_case(test);
        suite.add_testcase(case);
        extras.push(extra);
    }
    if session.interrupted {
        suite.set_system_out(&for_xml(INTERRUPTED));
    }
    let mut report = Report::new();
    report.add_testsuite(suite);
    let mut raw = Vec::new();
    report
        .write_xml(&mut raw)
        .context("serialising the JUnit report")?;
    let raw = String::from_utf8(raw).context("the JUnit writer produced invalid UTF-8")?;
    let suite_patch = SuitePatch {
        skipped: session.count(Verdict::Skipped) + session.count(Verdict::XFailed),
        time: format!("{:.3}", session.duration.as_secs_f64()),
    };
    patch(&raw, &suite_patch, &extras)
}

/// What junit-report cannot write for one testcase, as ready XML.
#[derive(Debug, Default)]
struct Extra {
    /// Replaces the bare `<skipped/>`.
    skipped: Option<String>,
    /// Goes last in the testcase.
    system_out: Option<String>,
}

struct SuitePatch {
    skipped: usize,
    time: String,
}

fn test_case(test: &TestReport) -> (TestCase, Extra) {
    let name = printable(&test.item.name);
    let time = case_time(test.duration);
    let mut extra = Extra::default();
    let mut case = match test.verdict {
        Verdict::Passed | Verdict::XPassed => TestCase::success(&name, time),
        Verdict::Inconclusive => {
            let mut case = TestCase::success(&name, time);
            case.set_system_out(&for_xml(&inconclusive_note(test)));
            case
        }
        Verdict::Allowed => {
            // An accepted leak passes the gate; the note keeps it visible.
            let mut case = TestCase::success(&name, time);
            let note = format!(
                "allowed leak: {} ({})\n{}",
                rates(&test.growth),
                test.allowed.as_deref().unwrap_or("accepted"),
                leak_body(test)
            );
            case.set_system_out(&for_xml(&note));
            case
        }
        Verdict::Failed => {
            let (message, traceback) = match &test.failure {
                Some(failure) => (failure.summary(), failure.traceback.as_str()),
                None => ("failed".to_owned(), ""),
            };
            let kind = test.failure.as_ref().map_or("", |f| f.kind.as_str());
            let (kind, traceback) = with_repeatability(test, kind, traceback);
            let mut case = TestCase::failure(&name, time, &printable(kind), &printable(&message));
            case.set_system_out(&failure_body(&traceback));
            case
        }
        Verdict::Error => {
            let (message, traceback) = match &test.failure {
                Some(failure) => (error_message(failure), failure.traceback.as_str()),
                None => ("error".to_owned(), ""),
            };
            let kind = test.failure.as_ref().map_or("", |f| f.kind.as_str());
            let (kind, traceback) = with_repeatability(test, kind, traceback);
            let mut case = TestCase::error(&name, time, &printable(kind), &printable(&message));
            case.set_system_out(&failure_body(&traceback));
            case
        }
        Verdict::Leaked => {
            let mut case = TestCase::failure(&name, time, "leak", &printable(&leak_message(test)));
            case.set_system_out(&failure_body(&leak_body(test)));
            case
        }
        Verdict::Skipped | Verdict::XFailed => {
            let mut case = TestCase::skipped(&name);
            case.time = time;
            extra.skipped = Some(skipped_element(test));
            case
        }
    };
    case.set_classname(&printable(&test.item.classname));
    if !test.captured.is_empty() {
        if case.is_success() {
            // junit-report writes this one itself, and closes the testcase as
            // `<testcase/>` when it has nothing to write, leaving no room for a patch.
            let note = case.system_out.take().unwrap_or_default();
            let separator = if note.is_empty() { "" } else { "\n" };
            case.set_system_out(&format!("{note}{separator}{}", for_xml(&test.captured)));
        } else {
            extra.system_out = Some(format!(
                "<system-out>{}</system-out>",
                cdata(&for_xml(&test.captured))
            ));
        }
    }
    (case, extra)
}

/// pytest names a module that failed to import by its dotted path, with an
/// empty classname.
fn collection_case(error: &CollectionError) -> TestCase {
    // junit-report always writes `type`; pytest writes none, so it stays empty.
    let mut case = TestCase::error(
        &printable(&dotted_module(&error.path)),
        Duration::ZERO,
        "",
        "collection failure",
    );
    case.set_classname("");
    case.set_system_out(&failure_body(&error.message));
    case
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
    let place = culprit.map_or_else(|| location(&test.item), |at| at.at());
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
    let mut note = format!(
        "inconclusive: growth{growth} still ambiguous after {} runs\n",
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

/// pytest's `path:line` (just the path when the line is unknown).
fn location(item: &TestItem) -> String {
    if item.line == 0 {
        item.path.clone()
    } else {
        format!("{}:{}", item.path, item.line)
    }
}

/// pytest's `<skipped type="pytest.skip" message="reason">path:line: reason</skipped>`.
fn skipped_element(test: &TestReport) -> String {
    let reason = test.skip_reason.as_deref().unwrap_or("");
    if test.verdict == Verdict::XFailed {
        // pytest writes an xfail as a bodiless skip of its own type.
        let reason = reason.strip_prefix("reason: ").unwrap_or(reason);
        return format!(
            "<skipped type=\"pytest.xfail\" message=\"{}\"/>",
            escape_attr(&printable(reason))
        );
    }
    let details = if reason.is_empty() {
        location(&test.item)
    } else {
        format!("{}: {reason}", location(&test.item))
    };
    format!(
        "<skipped type=\"pytest.skip\" message=\"{}\">{}</skipped>",
        escape_attr(&printable(reason)),
        cdata(&for_xml(&details))
    )
}

/// A body for `<failure>`/`<error>`. junit-report runs those through an ANSI
/// stripper that also drops tabs and carriage returns, so they are turned into
/// what a terminal would show first.
fn failure_body(text: &str) -> String {
    let text = for_xml(text).replace("\r\n", "\n").replace('\r', "\n");
    expand_tabs(&text)
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

/// `text` must come from `for_xml`, which splits any `]]>`.
fn cdata(text: &str) -> String {
    format!("<![CDATA[{text}]]>")
}

/// Escapes an attribute value the way quick-xml does, plus whitespace as
/// character references so a multi-line value survives attribute normalisation.
fn escape_attr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            _ => out.push(c),
        }
    }
    out
}

/// Test durations in milliseconds, like pytest's `%.3f`.
fn case_time(duration: std::time::Duration) -> Duration {
    let millis = duration.as_micros().saturating_add(500) / 1000;
    Duration::milliseconds(i64::try_from(millis).unwrap_or(i64::MAX))
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

/// Adds what junit-report cannot write to its output `xml`.
fn patch(xml: &str, suite: &SuitePatch, extras: &[Extra]) -> anyhow::Result<String> {
    let mut out = String::with_capacity(xml.len() + 1024);
    let mut copied = 0;
    let mut suites = 0;
    let mut cases = 0;
    let mut current: Option<&Extra> = None;
    let mut used_skipped = 0;
    let mut used_system_out = 0;
    for range in markup(xml)? {
        let tag = &xml[range.clone()];
        let replacement = if tag.starts_with("<testsuite ") {
            suites += 1;
            Some(patch_suite_tag(tag, suite)?)
        } else if tag.starts_with("<testcase ") {
            current = extras.get(cases);
            cases += 1;
            None
        } else if tag == "<skipped/>" {
            let skipped = current.and_then(|extra| extra.skipped.as_ref());
            used_skipped += usize::from(skipped.is_some());
            skipped.cloned()
        } else if tag == "</testcase>" {
            let system_out = current.and_then(|extra| extra.system_out.as_ref());
            used_system_out += usize::from(system_out.is_some());
            system_out.map(|system_out| format!("{system_out}</testcase>"))
        } else {
            None
        };
        if let Some(replacement) = replacement {
            out.push_str(&xml[copied..range.start]);
            out.push_str(&replacement);
            copied = range.end;
        }
    }
    out.push_str(&xml[copied..]);
    let want_skipped = extras.iter().filter(|e| e.skipped.is_some()).count();
    let want_system_out = extras.iter().filter(|e| e.system_out.is_some()).count();
    if suites != 1
        || cases != extras.len()
        || used_skipped != want_skipped
        || used_system_out != want_system_out
    {
        bail!(
            "unexpected output from the JUnit writer: {suites} suites, {cases} of {} testcases, \
             {used_skipped} of {want_skipped} skips, {used_system_out} of {want_system_out} outputs placed",
            extras.len()
        );
    }
    Ok(out)
}

/// Adds `skipped` and sets `time` to the session's wall time.
fn patch_suite_tag(tag: &str, suite: &SuitePatch) -> anyhow::Result<String> {
    // Values are escaped, so `"` only delimits attributes and this is the attribute.
    const TIME: &str = " time=\"";
    let Some(start) = tag.find(TIME) else {
        bail!("unexpected output from the JUnit writer: no time on {tag}");
    };
    let value = start + TIME.len();
    let Some(len) = tag[value..].find('"') else {
        bail!("unexpected output from the JUnit writer: unterminated time on {tag}");
    };
    Ok(format!(
        "{} skipped=\"{}\"{TIME}{}{}",
        &tag[..start],
        suite.skipped,
        suite.time,
        &tag[value + len..]
    ))
}

/// Byte ranges of every tag in `xml` outside CDATA sections, where a `<` in a
/// traceback could otherwise pass for markup.
fn markup(xml: &str) -> anyhow::Result<Vec<Range<usize>>> {
    const CDATA_OPEN: &str = "<![CDATA[";
    let mut tags = Vec::new();
    let mut i = 0;
    while let Some(offset) = xml[i..].find('<') {
        let start = i + offset;
        if xml[start..].starts_with(CDATA_OPEN) {
            let body = start + CDATA_OPEN.len();
            let len = xml[body..]
                .find("]]>")
                .context("unexpected output from the JUnit writer: unterminated CDATA")?;
            i = body + len + "]]>".len();
        } else {
            let len = xml[start..]
                .find('>')
                .context("unexpected output from the JUnit writer: unterminated tag")?;
            i = start + len + 1;
            tags.push(start..i);
        }
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::Growth;
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
        report.duration = std::time::Duration::from_micros(12_345_600);
        report
    }

    fn sample(objects: i64, bytes: i64) -> Sample {
        let mut sample = Sample::default();
        sample.0[Signal::Objects.index()] = objects;
        sample.0[Signal::Bytes.index()] = bytes;
        sample
    }

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

        let mut error = report("test_setup", Verdict::Error);
        error.failure = Some(Failure {
            kind: "ValueError".to_owned(),
            message: "bad fixture".to_owned(),
            traceback: "fixture traceback".to_owned(),
            run: 1,
            phase: "setup".to_owned(),
        });

        let mut skipped = report("test_skip", Verdict::Skipped);
        skipped.skip_reason = Some(format!("no network {NASTY}"));

        let mut leaked = report("test_leak[a]", Verdict::Leaked);
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

        let mut inconclusive = report("test_maybe", Verdict::Inconclusive);
        inconclusive.growth = vec![Growth {
            signal: Signal::Rss,
            per_run: 262_144.0,
        }];
        inconclusive.series = vec![sample(0, 0), sample(0, 0)];
        inconclusive.series[1].0[Signal::Rss.index()] = 262_144;

        SessionReport {
            tests: vec![passed, chatty, failed, error, skipped, leaked, inconclusive],
            collection_errors: vec![CollectionError {
                path: "pkg/test_broken.py".to_owned(),
                message: format!("ImportError {NASTY}"),
            }],
            duration: std::time::Duration::from_millis(61_500),
            interrupted: true,
        }
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
    }

    #[test]
    fn markup_skips_cdata() {
        let xml = "<a><![CDATA[<b>]]]]><![CDATA[></c>]]></a>";
        let tags: Vec<&str> = markup(xml).unwrap().into_iter().map(|r| &xml[r]).collect();
        assert_eq!(tags, ["<a>", "</a>"]);
    }

    #[test]
    fn patch_refuses_unexpected_writer_output() {
        let suite = SuitePatch {
            skipped: 0,
            time: "0.000".to_owned(),
        };
        let extra = Extra {
            skipped: Some("<skipped/>".to_owned()),
            system_out: None,
        };
        let xml = "<testsuites><testsuite name=\"x\" time=\"0\"><testcase name=\"t\"/></testsuite></testsuites>";
        assert!(patch(xml, &suite, &[extra]).is_err());
        assert!(patch("<testsuites/>", &suite, &[]).is_err());
    }

    #[test]
    fn renders_every_verdict() {
        let xml = render_junit(&session()).unwrap();
        let fragments = [
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><testsuites><testsuite id=\"0\" name=\"leakhunt\"",
            " tests=\"8\" errors=\"2\" failures=\"2\" ",
            " skipped=\"1\" time=\"61.500\">",
            // Collection errors first, named like pytest names them.
            "<testcase name=\"pkg.test_broken\" time=\"0\" classname=\"\"><error type=\"\" message=\"collection failure\"><![CDATA[ImportError red nul#x00 end]]]]><![CDATA[> <tag> & \"q\"]]></error></testcase>",
            "<testcase name=\"test_ok\" time=\"12.346\" classname=\"pkg.test_x.TestC\"/>",
            "<testcase name=\"test_chatty\" time=\"12.346\" classname=\"pkg.test_x.TestC\"><system-out><![CDATA[hello red nul#x00 end]]]]><![CDATA[> <tag> & \"q\"]]></system-out></testcase>",
            "<testcase name=\"test_fail\" time=\"12.346\" classname=\"pkg.test_x.TestC\"><failure type=\"AssertionError\" message=\"passed runs 1-2, failed run 3: AssertionError: assert 1 == 2 red nul#x00 end]]&gt; &lt;tag&gt; &amp; &quot;q&quot;\">",
            "<![CDATA[Traceback:\n        assert 1 == 2\nred nul#x00 end]]]]><![CDATA[> <tag> & \"q\"\nlast]]></failure><system-out><![CDATA[printed red nul#x00 end]]]]><![CDATA[> <tag> & \"q\"]]></system-out></testcase>",
            "<error type=\"ValueError\" message=\"failed on setup with &quot;ValueError: bad fixture&quot;\"><![CDATA[fixture traceback]]></error>",
            "<testcase name=\"test_skip\" time=\"12.346\" classname=\"pkg.test_x.TestC\"><skipped type=\"pytest.skip\" message=\"no network red nul#x00 end]]&gt; &lt;tag&gt; &amp; &quot;q&quot;\"><![CDATA[pkg/test_x.py:12: no network red nul#x00 end]]]]><![CDATA[> <tag> & \"q\"]]></skipped></testcase>",
            "<testcase name=\"test_leak[a]\" time=\"12.346\" classname=\"pkg.test_x.TestC\"><failure type=\"leak\" message=\"leaked: +1 objects/run, +416 B/run\"><![CDATA[pkg/test_x.py:12: pkg/test_x.py::TestC::test_leak[a] leaked\nobjects: 120 121 122 123 (deltas +1 +1 +1)\nbytes: 1000 1416 1832 2248 (deltas +416 +416 +416)\nruns: 13 (3 warm-up)\n]]></failure></testcase>",
            "<testcase name=\"test_maybe\" time=\"12.346\" classname=\"pkg.test_x.TestC\"><system-out><![CDATA[inconclusive: growth of +256.0 KiB/run still ambiguous after 13 runs\nrss: 0 262144 (deltas +262144)\n]]></system-out></testcase>",
            "<system-out><![CDATA[interrupted: not every test ran]]></system-out></testsuite></testsuites>",
        ];
        for fragment in fragments {
            assert!(xml.contains(fragment), "missing {fragment:?} in\n{xml}");
        }
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
            "no network red nul#x00 end]]> <tag> & \"q\""
        );
    }

    #[test]
    fn empty_session_validates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.xml");
        let xml = render_junit(&SessionReport::default()).unwrap();
        assert!(
            xml.contains(" skipped=\"0\" time=\"0.000\"/></testsuites>"),
            "{xml}"
        );
        fs::write(&path, xml).unwrap();
        if let Some(output) = xmllint(&path) {
            assert!(output.status.success(), "{output:?}");
        }
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
}
