//! The command line: outcomes, selection, exit codes and the JUnit report.

mod common;

use common::{assert_outcomes, assert_valid_junit, final_counts, leakhunt, verdicts};

#[test]
fn every_outcome_of_the_builtin_engine() {
    let run = leakhunt(&["outcomes", "-v"]);
    assert_eq!(
        verdicts(&run.stdout),
        [
            "outcomes/pkg/test_in_package.py::test_package_name PASSED",
            "outcomes/test_module_setup.py::test_setup_ran_once PASSED",
            "outcomes/test_module_setup.py::test_still_once PASSED",
            "outcomes/test_outcomes.py::test_passes PASSED",
            "outcomes/test_outcomes.py::test_fails FAILED",
            "outcomes/test_outcomes.py::test_skipped SKIPPED",
            "outcomes/test_outcomes.py::test_fails_on_second_run FAILED",
            "outcomes/test_outcomes.py::test_needs_a_fixture ERROR",
            "outcomes/test_outcomes.py::test_prints_then_fails FAILED",
            "outcomes/test_outcomes.py::TestPlainClass::test_uses_setup PASSED",
            "outcomes/test_outcomes.py::TestPlainClass::test_fresh_instance_each_run PASSED",
            "outcomes/test_unittest_cases.py::CalculatorCase::test_add PASSED",
            "outcomes/test_unittest_cases.py::CalculatorCase::test_class_setup_ran PASSED",
            "outcomes/test_unittest_cases.py::CalculatorCase::test_fails FAILED",
            "outcomes/test_unittest_cases.py::CalculatorCase::test_skipped SKIPPED",
            "outcomes/test_unittest_cases.py::SkippedCase::test_inside_skipped_class SKIPPED",
        ],
        "{}",
        run.stdout
    );
    assert_eq!(
        final_counts(&run.stdout),
        "4 failed, 8 passed, 4 skipped, 3 errors"
    );
    assert_eq!(run.code, 1);
    let out = &run.stdout;
    for line in [
        // test_skipped_whole.py raises SkipTest at import: counted apart, as pytest does.
        "collected 16 items / 2 errors / 1 skipped\n",
        "ERROR outcomes/test_broken_import.py\n",
        "ERROR outcomes/test_syntax_error.py\n",
        "FAILED outcomes/test_outcomes.py::test_fails - AssertionError: lists differ\n",
        "ERROR outcomes/test_outcomes.py::test_needs_a_fixture - test takes arguments (tmp_path): these are pytest fixtures, and the built-in engine cannot provide them; this test needs pytest\n",
        "FAILED outcomes/test_unittest_cases.py::CalculatorCase::test_fails - AssertionError: 41 != 0\n",
        "ModuleNotFoundError: No module named 'module_that_does_not_exist'\n",
        "SyntaxError: invalid syntax\n",
        "------------------------------- Captured output --------------------------------\nhello from the test\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(
        out.contains(
            "FAILED outcomes/test_outcomes.py::test_fails_on_second_run - passed run 1, failed run 2: FileExistsError: [Errno 17] File exists: "
        ),
        "{out}"
    );
}

#[test]
fn node_ids_select_tests_as_pytest_does() {
    let run = leakhunt(&[
        "outcomes/test_outcomes.py::test_passes",
        "outcomes/test_outcomes.py::TestPlainClass",
        "-v",
    ]);
    assert_eq!(
        verdicts(&run.stdout),
        [
            "outcomes/test_outcomes.py::test_passes PASSED",
            "outcomes/test_outcomes.py::TestPlainClass::test_uses_setup PASSED",
            "outcomes/test_outcomes.py::TestPlainClass::test_fresh_instance_each_run PASSED",
        ]
    );
    assert!(run.stdout.contains("collected 3 items\n"), "{}", run.stdout);
    assert_eq!(run.code, 0);
}

#[test]
fn keyword_expression_selects_by_name_and_parents() {
    let run = leakhunt(&["outcomes", "-k", "plainclass or (setup and not once)", "-v"]);
    assert_eq!(
        verdicts(&run.stdout),
        [
            "outcomes/test_outcomes.py::TestPlainClass::test_uses_setup PASSED",
            "outcomes/test_outcomes.py::TestPlainClass::test_fresh_instance_each_run PASSED",
            "outcomes/test_unittest_cases.py::CalculatorCase::test_class_setup_ran PASSED",
        ],
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains("collected 16 items / 2 errors / 13 deselected / 1 skipped / 3 selected"));
    assert_eq!(
        final_counts(&run.stdout),
        "3 passed, 1 skipped, 13 deselected, 2 errors"
    );
}

#[test]
fn exitfirst_stops_at_the_first_failure() {
    let run = leakhunt(&["outcomes/test_outcomes.py", "-x", "-v"]);
    assert_eq!(
        verdicts(&run.stdout),
        [
            "outcomes/test_outcomes.py::test_passes PASSED",
            "outcomes/test_outcomes.py::test_fails FAILED",
        ]
    );
    assert_eq!(run.code, 1);
}

#[test]
fn usage_errors_exit_4_with_one_line() {
    let run = leakhunt(&["outcomes", "-k", "a and"]);
    assert_eq!(run.code, 4);
    assert_eq!(
        run.stderr,
        "ERROR: Wrong expression passed to '-k': a and: at column 6: expected not OR left parenthesis OR identifier; got end of input\n"
    );
    let run = leakhunt(&["no/such/folder"]);
    assert_eq!(run.code, 4);
    assert_eq!(
        run.stderr,
        "ERROR: file or directory not found: no/such/folder\n"
    );
    let run = leakhunt(&["outcomes/test_outcomes.py::test_nope"]);
    assert_eq!(run.code, 4);
    assert_eq!(
        run.stderr,
        "ERROR: not found: outcomes/test_outcomes.py::test_nope\n"
    );
    let run = leakhunt(&["clean", "--iterations", "2"]);
    assert_eq!(run.code, 4);
    assert!(
        run.stderr.contains("needs at least 3 judged runs"),
        "{}",
        run.stderr
    );
}

#[test]
fn no_tests_exit_5() {
    let empty = tempfile::tempdir().unwrap();
    let run = leakhunt(&[empty.path().to_str().unwrap()]);
    assert_eq!(run.code, 5, "{}", run.stdout);
    assert_eq!(final_counts(&run.stdout), "no tests ran");
}

#[test]
fn collect_only_lists_node_ids_and_runs_nothing() {
    let run = leakhunt(&["outcomes/test_module_setup.py", "--collect-only", "-q"]);
    assert_eq!(
        run.stdout,
        "outcomes/test_module_setup.py::test_setup_ran_once\noutcomes/test_module_setup.py::test_still_once\n"
    );
    assert_eq!(run.code, 0);
}

#[test]
fn junit_report_validates_and_holds_leaks_as_failures() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("reports/leaks.xml");
    let run = leakhunt(&[
        "leaky/test_resources.py",
        "outcomes",
        "--junitxml",
        report.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(run.code, 1);
    let xml = std::fs::read_to_string(&report).unwrap();
    assert_valid_junit(&report);
    assert!(xml.contains(r#"<testcase name="test_fd_leaked_by_os_open" time="#));
    assert!(xml.contains(
        r#"<failure type="leak" message="leaked: +1 fds/run"><![CDATA[leaky/test_resources.py:14: leaky/test_resources.py::test_fd_leaked_by_os_open leaked"#
    ), "{xml}");
    assert!(
        xml.contains(r#"<failure type="AssertionError" message="AssertionError: lists differ">"#)
    );
    assert!(xml.contains(r#"<error type="" message="collection failure">"#));
    assert!(
        xml.contains(r#"<skipped type="pytest.skip" message="not on this platform">"#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testcase name="outcomes.test_skipped_whole" time="#)
            && xml.contains(r#"classname=""><skipped type="pytest.skip" message="needs a backend this machine does not have"><![CDATA[outcomes/test_skipped_whole.py:5: needs a backend"#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"tests="23" errors="3" failures="8""#),
        "{xml}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, [std::ffi::OsString::from("leaks.xml")]);
}

/// setup_module, setup_function and setup_method (and their teardowns) get
/// their argument only when they take one, as pytest calls them.
#[test]
fn xunit_hooks_get_their_argument_only_when_they_take_one() {
    let expected = [
        "xunit_hooks/test_module_argument.py::test_module_and_function_arguments PASSED",
        "xunit_hooks/test_optional_arguments.py::test_hooks_without_arguments PASSED",
        "xunit_hooks/test_optional_arguments.py::TestWithoutArguments::test_setup_method_ran PASSED",
        "xunit_hooks/test_optional_arguments.py::TestWithArguments::test_setup_method_got_the_method PASSED",
    ];
    let run = leakhunt(&["--engine", "builtin", "xunit_hooks", "-v"]);
    assert_eq!(verdicts(&run.stdout), expected, "{}", run.stdout);
    assert_eq!(final_counts(&run.stdout), "4 passed");
    assert_eq!(run.code, 0);
}

/// The summary's title names only the kinds of not repeatable it holds.
#[test]
fn a_summary_of_tests_that_only_fail_when_run_again_does_not_mention_slowing() {
    let run = leakhunt(&[
        "--engine",
        "builtin",
        "not_repeatable/test_repeats.py::test_fails_when_run_again",
    ]);
    let out = &run.stdout;
    assert!(
        out.contains("\nnot repeatable: 1 (they fail only when run again)\n"),
        "{out}"
    );
    assert_eq!(final_counts(out), "1 failed");
}

/// Tests that fail or slow down only because they are run again are told
/// apart from real failures: grouped in the short summary, with their own
/// JUnit type and JSON key, and a slowing test's run times.
#[test]
fn tests_that_are_not_repeatable_are_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("r.xml");
    let json = dir.path().join("r.json");
    let run = leakhunt(&[
        "--engine",
        "builtin",
        "not_repeatable",
        "-v",
        "--timeout",
        "1",
        "--junitxml",
        junit.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_outcomes(
        &run,
        &[
            "not_repeatable/test_repeats.py::test_passes PASSED",
            "not_repeatable/test_repeats.py::test_fails_every_time FAILED",
            "not_repeatable/test_repeats.py::test_fails_when_run_again FAILED",
            "not_repeatable/test_repeats.py::test_slower_every_run FAILED",
        ],
        "3 failed, 1 passed",
        1,
        "not_repeatable",
    );
    let out = &run.stdout;
    let summary = "=========================== short test summary info ============================\n\
        FAILED not_repeatable/test_repeats.py::test_fails_every_time - AssertionError: a real failure\n\
        not repeatable: 2 (they fail or slow down only when run again)\n\
        FAILED not_repeatable/test_repeats.py::test_fails_when_run_again - passed run 1, failed run 2: AssertionError: registered twice\n\
        FAILED not_repeatable/test_repeats.py::test_slower_every_run - Timeout: timed out after 1s during run ";
    assert!(out.contains(summary), "{out}");
    assert!(out.contains("\nnot repeatable: passes, then fails when run again (run 2)\n"));
    let slower = out
        .lines()
        .find(|line| line.starts_with("not repeatable: slower every run: "))
        .unwrap_or_else(|| panic!("no run times in {out}"));
    assert!(
        slower.ends_with(", then stopped by the 1s timeout"),
        "{slower}"
    );

    common::assert_valid_junit(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<failure type=\"not-repeatable\" ").count(), 2);
    assert!(xml
        .contains("<failure type=\"AssertionError\" message=\"AssertionError: a real failure\">"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let tests = json["tests"].as_array().unwrap();
    assert_eq!(tests[1]["not_repeatable"], serde_json::Value::Null);
    assert_eq!(
        tests[2]["not_repeatable"],
        serde_json::json!({"kind": "fails-when-repeated", "run": 2})
    );
    let slower = &tests[3]["not_repeatable"];
    assert_eq!(slower["kind"], "slower-every-run");
    assert_eq!(slower["timeout"], 1.0);
    // Each run sleeps 0.1 s more than the one before, until one passes 1 s.
    // The worker notes when each run starts (its run board), after the
    // harness's own work between runs: an interval can be off by a few ms.
    let times: Vec<f64> = slower["run_times"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_f64().unwrap())
        .collect();
    assert!(
        times.len() >= 9 && times[0] >= 0.095 && times[8] >= 0.895,
        "{times:?}"
    );
}

#[test]
fn a_report_that_cannot_be_written_is_a_usage_error_before_any_test_runs() {
    // It failed after every test had run: INTERNALERROR, exit 3, and the
    // reports after it in the order (JSON, HTML) were not written.
    let folder = tempfile::tempdir().expect("a temporary folder");
    let taken = folder.path().to_str().expect("a UTF-8 path");
    let run = leakhunt(&["clean/test_noise.py", "--json", taken]);
    assert_eq!(run.code, 4, "{}", run.stdout);
    assert_eq!(
        run.stderr,
        format!(
            "ERROR: cannot write the JSON report {taken} ({taken} is a folder): choose a path \
             in a folder you can write to\n"
        )
    );
    assert!(!run.stdout.contains("passed"), "{}", run.stdout);
    let run = leakhunt(&["clean/test_noise.py", "--junitxml", "/proc/leakhunt.xml"]);
    assert_eq!(run.code, 4, "{}", run.stdout);
    assert!(
        run.stderr.starts_with(
            "ERROR: cannot write the JUnit report /proc/leakhunt.xml (creating a file in /proc: "
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .ends_with("): choose a path in a folder you can write to\n"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1);
}
