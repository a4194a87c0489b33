//! Workers: hostile tests cost only themselves, -n N reports like -n 1,
//! shards cover the suite once, Ctrl-C leaves a valid partial report.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{assert_valid_junit, final_counts, fixtures, leakhunt, verdicts};

const HOSTILE: &[&str] = &[
    "hostile/test_crashes.py::test_before_the_crashes PASSED",
    "hostile/test_crashes.py::test_segfault FAILED",
    "hostile/test_crashes.py::test_abort FAILED",
    "hostile/test_crashes.py::test_os_exit FAILED",
    "hostile/test_crashes.py::test_after_the_crashes PASSED",
    "hostile/test_exceptions.py::test_sys_exit FAILED",
    "hostile/test_exceptions.py::test_raises_system_exit FAILED",
    "hostile/test_exceptions.py::test_memory_error FAILED",
    "hostile/test_exceptions.py::test_recursion_error FAILED",
    "hostile/test_exceptions.py::test_hostile_message FAILED",
    "hostile/test_exceptions.py::test_megabytes_of_output FAILED",
    "hostile/test_exceptions.py::test_output_that_is_not_utf8 FAILED",
    "hostile/test_exceptions.py::test_ordinary_after_exceptions PASSED",
    "hostile/test_hangs.py::test_spins_forever FAILED",
    "hostile/test_hangs.py::test_sleeps_forever FAILED",
    "hostile/test_hangs.py::test_ordinary_after_hangs PASSED",
    "hostile/test_process_state.py::test_closes_stdout_and_stderr PASSED",
    "hostile/test_process_state.py::test_redirects_stdout PASSED",
    "hostile/test_process_state.py::test_output_still_captured FAILED",
    "hostile/test_process_state.py::test_changes_directory PASSED",
    "hostile/test_process_state.py::test_directory_restored PASSED",
    "hostile/test_process_state.py::test_clears_sys_path PASSED",
    "hostile/test_process_state.py::test_imports_still_work PASSED",
    "hostile/test_process_state.py::test_disables_gc PASSED",
    "hostile/test_process_state.py::test_leak_seen_after_gc_disabled LEAKED",
    "hostile/test_process_state.py::test_stops_tracemalloc PASSED",
    "hostile/test_process_state.py::test_bytes_leak_seen_after_tracemalloc_stopped LEAKED",
];

#[test]
fn the_timeout_is_per_run_not_per_test() {
    // 13 runs of 0.5 s each: 6.5 s in all, under 2 s each.
    let run = leakhunt(&["slow/test_slow.py::test_slow", "--timeout", "2"]);
    assert_eq!(final_counts(&run.stdout), "1 passed", "{}", run.stdout);
    assert_eq!(run.code, 0);
}

#[test]
fn hostile_tests_cost_only_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("hostile.xml");
    let started = Instant::now();
    let run = leakhunt(&[
        "hostile",
        "--timeout",
        "2",
        "-v",
        "--junitxml",
        report.to_str().unwrap(),
    ]);
    // A liveness guard, not a speed check: two 2 s timeouts and some crashes.
    assert!(started.elapsed() < Duration::from_secs(120));
    assert_eq!(verdicts(&run.stdout), HOSTILE, "{}", run.stdout);
    assert_eq!(final_counts(&run.stdout), "13 failed, 12 passed, 2 leaked");
    assert_eq!(run.code, 1);
    let out = &run.stdout;
    for line in [
        "FAILED hostile/test_crashes.py::test_segfault - WorkerCrash: worker died with SIGSEGV during run 1 of hostile/test_crashes.py::test_segfault\n",
        "FAILED hostile/test_crashes.py::test_abort - WorkerCrash: worker died with SIGABRT during run 1 of hostile/test_crashes.py::test_abort\n",
        "FAILED hostile/test_crashes.py::test_os_exit - WorkerCrash: worker exited with code 3 during run 1 of hostile/test_crashes.py::test_os_exit\n",
        "FAILED hostile/test_exceptions.py::test_sys_exit - SystemExit: 4\n",
        "FAILED hostile/test_exceptions.py::test_raises_system_exit - SystemExit: bye\n",
        "FAILED hostile/test_exceptions.py::test_memory_error - MemoryError\n",
        "FAILED hostile/test_exceptions.py::test_recursion_error - RecursionError: maximum recursion depth exceeded\n",
        "FAILED hostile/test_exceptions.py::test_hostile_message - AssertionError: red nul:#x00 cdata:]]> bell:#x07 end\n",
        "FAILED hostile/test_hangs.py::test_spins_forever - Timeout: timed out after 2s during run 1 of hostile/test_hangs.py::test_spins_forever\n",
        "FAILED hostile/test_hangs.py::test_sleeps_forever - Timeout: timed out after 2s during run 1 of hostile/test_hangs.py::test_sleeps_forever\n",
        "[output cut: 2031627 bytes before this were dropped; the last 64 KiB follow]\n",
        "xxxx\nlast line\n",
        "bytes \u{fffd}\u{fffd} here\n",
        "------------------------------- Captured output --------------------------------\nstill captured\n",
        // Its heap bytes also hold the list's buffer growing by jumps: their
        // rate depends on where the window starts.
        "LEAKED hostile/test_process_state.py::test_leak_seen_after_gc_disabled - +2 blocks/run, +19",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    // The stack of a hung test names the line it was stuck on.
    assert!(
        out.contains("test_hangs.py\", line 12 in test_sleeps_forever"),
        "{out}"
    );
    assert!(
        !out.contains('\u{1b}') && !out.contains('\0'),
        "raw escapes leaked"
    );
    assert_valid_junit(&report);
}

/// The JUnit without what changes between runs: times, timestamp, host, the
/// measured rates, and the bodies of leak failures (series and diagnosis are
/// measurements: bytes and memory differ a little from run to run). Verdicts,
/// signals, messages, tracebacks and order remain.
fn stable_junit(path: &std::path::Path) -> String {
    let xml = std::fs::read_to_string(path).unwrap();
    let volatile =
        regex::Regex::new(r#" (time|timestamp|hostname)="[^"]*"|/tmp/leakhunt-outcomes-\d+"#)
            .unwrap();
    let rate = regex::Regex::new(r"\+[0-9.]+ ([A-Za-z]+)/run").unwrap();
    let leak_body =
        regex::Regex::new(r#"(?s)(<failure type="leak"[^>]*>)<!\[CDATA\[.*?\]\]>"#).unwrap();
    let xml = leak_body.replace_all(&xml, "$1");
    let xml = rate.replace_all(&xml, "+N $1/run");
    volatile.replace_all(&xml, "").to_string()
}

#[test]
fn two_workers_report_the_same_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for workers in ["1", "2"] {
        let report = dir.path().join(format!("n{workers}.xml"));
        let run = leakhunt(&[
            "clean",
            "outcomes",
            "leaky/test_objects.py",
            "hostile/test_crashes.py",
            "-v",
            "-n",
            workers,
            "--junitxml",
            report.to_str().unwrap(),
        ]);
        assert_eq!(run.code, 1);
        assert_valid_junit(&report);
        outputs.push((
            verdicts(&run.stdout),
            final_counts(&run.stdout),
            stable_junit(&report),
        ));
    }
    assert_eq!(outputs[0].0.len(), 47);
    assert_eq!(outputs[0], outputs[1]);
}

fn collect_only(extra: &[&str]) -> Vec<String> {
    let mut args = vec!["clean", "leaky", "outcomes", "--collect-only", "-q"];
    args.extend_from_slice(extra);
    let run = leakhunt(&args);
    run.stdout
        .lines()
        .filter(|l| l.contains("::"))
        .map(str::to_string)
        .collect()
}

#[test]
fn shards_cover_the_collection_exactly_once() {
    let all = collect_only(&[]);
    assert_eq!(all.len(), 63);
    let mut union: Vec<String> = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let part = collect_only(&["--shard", &shard]);
        assert!(!part.is_empty(), "shard {shard} is empty");
        union.extend(part);
    }
    union.sort();
    let mut expected = all.clone();
    expected.sort();
    assert_eq!(union, expected, "overlap or gap between shards");
    let run = leakhunt(&["clean", "--shard", "4/3"]);
    assert_eq!(run.code, 4);
    // A shard without test files passes: a CI matrix wider than a small suite.
    let run = leakhunt(&["clean/test_noise.py", "--shard", "2/2"]);
    let other = leakhunt(&["clean/test_noise.py", "--shard", "1/2"]);
    let (empty, full) = if run.stdout.contains("nothing to check") {
        (run, other)
    } else {
        (other, run)
    };
    assert_eq!(empty.code, 0);
    assert!(empty
        .stdout
        .ends_with("has none of the 2 selected tests' files: nothing to check here\n"));
    assert_eq!(final_counts(&full.stdout), "2 passed");
}

#[test]
fn ctrl_c_stops_the_session_and_keeps_a_valid_partial_report() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("partial.xml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_leakhunt"))
        .args(["slow", "-v", "--color", "no", "--junitxml"])
        .arg(&report)
        .current_dir(fixtures())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // test_slow sleeps 0.5 s per run: by now it is running.
    std::thread::sleep(Duration::from_millis(1500));
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "leakhunt did not stop after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{stdout}");
    assert_eq!(
        verdicts(&stdout),
        [
            "slow/test_slow.py::test_quick_first PASSED",
            "slow/test_slow.py::test_quick_second PASSED",
        ]
    );
    assert!(
        stdout.contains("interrupted: not every test ran"),
        "{stdout}"
    );
    assert_valid_junit(&report);
    let xml = std::fs::read_to_string(&report).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 2, "{xml}");
    assert!(xml.contains("interrupted: not every test ran"));
}
