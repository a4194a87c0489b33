//! Strings a test controls cross from the interpreter to every report
//! whatever they hold: lone surrogates (shown as `\udc80`), NULs, escapes,
//! megabytes, and exceptions whose str() raises. One such string used to
//! end the session (exit 3); now each test is reported and the run goes on.

mod common;

use common::{final_counts, head, leakhunt_in, pytest_venv, run_with_reports, verdicts};

/// Without pytest, test_pytest_strings.py is one skipped file (which
/// `verdicts` leaves out: its node id names no test).
const BUILTIN: &[&str] = &[
    "hostile_strings/test_strings.py::test_surrogate_in_the_message FAILED",
    "hostile_strings/test_strings.py::test_surrogate_in_str_of_the_exception FAILED",
    "hostile_strings/test_strings.py::test_str_of_the_exception_raises FAILED",
    "hostile_strings/test_strings.py::test_nul_and_megabytes FAILED",
    "hostile_strings/test_strings.py::test_skip_reason SKIPPED",
    "hostile_strings/test_strings.py::test_undecodable_output FAILED",
    "hostile_strings/test_strings.py::test_warning_text PASSED",
    "hostile_strings/test_strings.py::test_leak_with_surrogates_in_its_reprs LEAKED",
    "hostile_strings/test_strings.py::test_after_everything_still_runs PASSED",
];

/// What both engines must show of test_strings.py, in the terminal.
const TERMINAL: &[&str] = &[
    "FAILED hostile_strings/test_strings.py::test_surrogate_in_the_message - AssertionError: bad ]]> chars #x0C \\udc80\n",
    "FAILED hostile_strings/test_strings.py::test_surrogate_in_str_of_the_exception - ValueError: weird \\udc80\n",
    "FAILED hostile_strings/test_strings.py::test_str_of_the_exception_raises - Unprintable: <exception str() failed>\n",
    "['key \\udc80'] -> list\n",
];

#[test]
fn the_builtin_engine_reports_every_hostile_string() {
    let dir = tempfile::tempdir().unwrap();
    let (run, junit, json, html) =
        run_with_reports(&["--engine", "builtin", "hostile_strings"], dir.path());
    assert_eq!(verdicts(&run.stdout), BUILTIN, "{}", head(&run.stdout));
    assert_eq!(
        final_counts(&run.stdout),
        "5 failed, 2 passed, 1 leaked, 2 skipped, 1 warning"
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    for line in TERMINAL {
        assert!(
            run.stdout.contains(line),
            "missing {line:?} in\n{}",
            head(&run.stdout)
        );
    }
    assert!(run
        .stdout
        .contains("ResourceWarning: unclosed \\udc80 (5 runs)\n"));
    // Bytes that are not UTF-8, written to fd 1, show as Python escapes them.
    assert!(
        run.stdout.contains("\nout \\udcff\\udcfe\n"),
        "{}",
        head(&run.stdout)
    );
    assert!(junit.contains(" message=\"AssertionError: bad ]]&gt; chars #x0C \\udc80\""));
    assert!(junit.contains("<skipped type=\"pytest.skip\" message=\"skipped \\udc80\">"));
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let message = &json["tests"][1]["failure"]["message"];
    assert_eq!(message, "bad \u{1b}[0m]]> chars \u{c} \\udc80");
    assert_eq!(json["tests"][5]["skip_reason"], "skipped \\udc80");
    assert_eq!(
        json["tests"][4]["failure"]["message"]
            .as_str()
            .map(str::len),
        Some("nul\0".len() + 2_000_000)
    );
    assert!(html.contains("weird \\udc80"));
}

#[test]
fn the_pytest_engine_reports_every_hostile_string() {
    let venv = pytest_venv();
    let dir = tempfile::tempdir().unwrap();
    let python = venv.to_str().expect("a UTF-8 path");
    let (run, junit, json, html) =
        run_with_reports(&["--python", python, "hostile_strings"], dir.path());
    let mut expected = vec![
        "hostile_strings/test_pytest_strings.py::test_parametrize_id[id\\udc80] PASSED",
        "hostile_strings/test_pytest_strings.py::test_xfail_reason XFAIL",
        "hostile_strings/test_pytest_strings.py::test_skip_reason SKIPPED",
        "hostile_strings/test_pytest_strings.py::test_captured_output FAILED",
    ];
    expected.extend(BUILTIN);
    assert_eq!(verdicts(&run.stdout), expected, "{}", head(&run.stdout));
    assert_eq!(
        final_counts(&run.stdout),
        // The ResourceWarning, which leakhunt shows and pytest records.
        "6 failed, 3 passed, 1 leaked, 2 skipped, 1 xfailed, 1 warning"
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    for line in &TERMINAL[..3] {
        assert!(
            run.stdout.contains(line),
            "missing {line:?} in\n{}",
            head(&run.stdout)
        );
    }
    // pytest's own capture writes '?' for what UTF-8 cannot hold, before
    // leakhunt sees it; pytest shows the same.
    assert!(
        run.stdout.contains("\nprinted ?\n"),
        "{}",
        head(&run.stdout)
    );
    assert!(junit.contains("<testcase name=\"test_parametrize_id[id\\udc80]\""));
    assert!(junit.contains("<skipped type=\"pytest.xfail\" message=\"expected \\udc80\"/>"));
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        json["tests"][0]["nodeid"],
        "hostile_strings/test_pytest_strings.py::test_parametrize_id[id\\udc80]"
    );
    assert_eq!(json["tests"][2]["skip_reason"], "skipped \\udc80");
    assert!(html.contains("test_parametrize_id[id\\udc80]"));
}

/// A file whose name is not UTF-8 (os.fsdecode gives Python a surrogate for
/// each undecodable byte) is imported, and named alike by both engines.
#[test]
fn a_file_name_that_is_not_utf8_is_collected_and_named() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"test_caf\xe9.py");
    std::fs::write(
        dir.path().join(name),
        "def test_fails():\n    assert False, __file__\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("pytest.ini"), "[pytest]\n").unwrap();
    let venv = pytest_venv();
    for engine in [
        vec!["--engine", "builtin"],
        vec!["--python", venv.to_str().expect("a UTF-8 path")],
    ] {
        let mut args = engine.clone();
        args.push("-v");
        let run = leakhunt_in(dir.path(), &args);
        assert_eq!(
            verdicts(&run.stdout),
            ["test_caf\\udce9.py::test_fails FAILED"],
            "{engine:?}: {}{}",
            head(&run.stdout),
            run.stderr
        );
        assert!(
            run.stdout.contains("/test_caf\\udce9.py\n"),
            "{engine:?}: {}",
            head(&run.stdout)
        );
        assert_eq!(run.code, 1);
    }
}

#[test]
fn a_thread_or_variable_named_with_megabytes_is_named_short_in_a_chain() {
    let run = common::leakhunt(&["huge_thread_name"]);
    assert_eq!(
        final_counts(&run.stdout),
        "1 leaked",
        "{}",
        head(&run.stdout)
    );
    assert!(run.stdout.len() < 20_000, "{} bytes", run.stdout.len());
    let thread = "the context of thread '\\udc80\\x00xxxxxxxxxxxxxxxxxxxxxxxxxx... (contextvars)";
    assert!(
        run.stdout.lines().any(|line| line
            == format!("  test_huge_thread_name.Scope: {thread} -> [ContextVar '\\udc80\\x00vvvvvvvvvvvvvvvvvvvvvvvvvv...] -> test_huge_thread_name.Scope")),
        "{}",
        head(&run.stdout)
    );
}

#[test]
fn names_of_megabytes_are_cut_in_every_report_and_reach_no_terminal_raw() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let (run, junit, json, html) = run_with_reports(&["huge_names"], folder.path());
    assert_eq!(
        final_counts(&run.stdout),
        "1 passed, 2 leaked",
        "{}",
        head(&run.stdout)
    );
    // 200 characters a name: the lone surrogate, the NUL and 195 more, "...".
    let huge = format!("\\udc80#x00{}...", "x".repeat(195));
    let cached = format!("test_huge_names.\\udc80#x00{}...", "x".repeat(179));
    let expected = [
        format!(
            "    judged again once lru_cache of {cached} (maxsize 40), a bounded cache holding \
             what grew, was full of entries its runs made: 40 more runs"
        ),
        format!(
            "cause: {huge}: module test_huge_names -> HOLDER (test_huge_names.Holder) -> .{huge} \
             (list) -> […] -> {huge}"
        ),
        format!("        +1        +56 B  {huge}"),
        format!(
            "        +1  thread \"waiter\" running {cached}, started at \
             huge_names/test_huge_names.py:51"
        ),
    ];
    let lines: Vec<&str> = run.stdout.lines().collect();
    for line in &expected {
        assert!(
            lines.contains(&line.as_str()),
            "missing {line:?} in:\n{}",
            head(&run.stdout)
        );
    }
    assert!(
        !run.stdout.bytes().any(|b| b < 0x20 && b != b'\n'),
        "a control character reached the terminal"
    );
    // Every report carries each name a few times, cut: not megabytes.
    for (report, text) in [
        ("terminal", &run.stdout),
        ("JUnit", &junit),
        ("JSON", &json),
        ("HTML", &html),
    ] {
        assert!(text.len() < 40_000, "{report}: {} bytes", text.len());
    }
}
