//! Workers: hostile tests cost only themselves, -n N reports like -n 1,
//! shards cover the suite once, Ctrl-C leaves a valid partial report.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    assert_all_passed, assert_outcomes, assert_valid_junit, final_counts, fixtures, leakhunt,
    verdicts, FORKING_TESTS,
};

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
    "hostile/test_process_state.py::test_leaves_stdout_replaced PASSED",
    "hostile/test_process_state.py::test_prints_after_stdout_replaced PASSED",
    "hostile/test_process_state.py::test_changes_directory PASSED",
    "hostile/test_process_state.py::test_directory_restored PASSED",
    "hostile/test_process_state.py::test_clears_sys_path PASSED",
    "hostile/test_process_state.py::test_imports_still_work PASSED",
    "hostile/test_process_state.py::test_disables_gc PASSED",
    "hostile/test_process_state.py::test_leak_seen_after_gc_disabled LEAKED",
    "hostile/test_process_state.py::test_stops_tracemalloc PASSED",
    "hostile/test_process_state.py::test_bytes_leak_seen_after_tracemalloc_stopped LEAKED",
    "hostile/test_process_state.py::test_keeps_all_garbage PASSED",
    "hostile/test_process_state.py::test_replaces_gc_collect PASSED",
    "hostile/test_process_state.py::test_cycles_still_freed PASSED",
];

#[test]
fn a_forked_child_that_returns_from_its_test_ends_there() {
    // The child used to carry on as a second worker: it reported the test a
    // second time, and the parent waited for it until it was killed.
    let run = leakhunt(&["fork/test_fork.py", "-v", "--timeout", "20"]);
    assert_all_passed(&run, &FORKING_TESTS);
}

#[test]
fn the_timeout_is_per_run_not_per_test() {
    // 5 runs (2 warm-up, 3 flat judged) of 1 s each: 5 s in all, under 2 s each.
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
    assert_eq!(final_counts(&run.stdout), "13 failed, 17 passed, 2 leaked");
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
        // Bytes that are not UTF-8 show as Python's surrogateescape escapes them.
        "bytes \\udcff\\udcfe here\n",
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

/// A module teardown that kills its worker or never ends, between files or
/// at the session's end, fails its test's teardown: the next file still
/// runs, and the session ends. The next file was lost, and a session whose
/// last teardown hung waited for ever.
#[test]
fn a_teardown_after_the_last_run_that_crashes_or_hangs_costs_only_its_test() {
    let run = leakhunt(&[
        "scope_teardown",
        "--engine",
        "builtin",
        "--timeout",
        "2",
        "-v",
    ]);
    assert_outcomes(
        &run,
        &[
            "scope_teardown/test_a_aborts_tearing_down.py::test_passes ERROR",
            "scope_teardown/test_b_hangs_tearing_down.py::test_passes ERROR",
            "scope_teardown/test_c_after.py::test_passes PASSED",
            "scope_teardown/test_d_hangs_at_the_end.py::test_passes ERROR",
        ],
        "1 passed, 3 errors",
        1,
        "scope_teardown",
    );
    for line in [
        "ERROR scope_teardown/test_a_aborts_tearing_down.py::test_passes - WorkerCrash: worker died with SIGABRT in the teardown after run 5 of scope_teardown/test_a_aborts_tearing_down.py::test_passes\n",
        "ERROR scope_teardown/test_b_hangs_tearing_down.py::test_passes - Timeout: timed out after 2s in the teardown after run 5 of scope_teardown/test_b_hangs_tearing_down.py::test_passes\n",
        "ERROR scope_teardown/test_d_hangs_at_the_end.py::test_passes - Timeout: timed out after 2s at the session's end, after run 5 of scope_teardown/test_d_hangs_at_the_end.py::test_passes\n",
        "test_d_hangs_at_the_end.py\", line 7 in teardown_module\n",
    ] {
        assert!(run.stdout.contains(line), "missing {line:?} in:\n{}", run.stdout);
    }
}

/// The JUnit without what changes between runs: times, timestamp, host, the
/// measured rates, and the bodies of leak failures (series and diagnosis are
/// measurements: bytes and memory differ a little from run to run). Verdicts,
/// signals, messages, tracebacks and order remain.
fn stable_junit(path: &std::path::Path) -> String {
    let xml = std::fs::read_to_string(path).unwrap();
    let leak_body =
        regex::Regex::new(r#"(?s)(<failure type="leak"[^>]*>)<!\[CDATA\[.*?\]\]>"#).unwrap();
    stable(&leak_body.replace_all(&xml, "$1"))
}

/// Text without what changes between runs: times, the measured rates, the
/// process ids in the outcome fixture's paths.
fn stable(text: &str) -> String {
    let volatile =
        regex::Regex::new(r#" (time|timestamp|hostname)="[^"]*"|/tmp/leakhunt-outcomes-\d+"#)
            .unwrap();
    let rate = regex::Regex::new(r"\+[0-9.]+ ([A-Za-z]+)/run").unwrap();
    let final_line = regex::Regex::new(r"(?m)^=+ (.*) in [0-9.]+s =+$").unwrap();
    let text = rate.replace_all(text, "+N $1/run");
    let text = final_line.replace_all(&text, "$1");
    volatile.replace_all(&text, "").to_string()
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
        // Progress lines come as tests finish: with two workers, in any order.
        let mut finished = verdicts(&run.stdout);
        finished.sort();
        let summary = run
            .stdout
            .split_once("short test summary info")
            .map(|(_, summary)| stable(summary));
        outputs.push((finished, summary, stable_junit(&report)));
    }
    assert_eq!(outputs[0].0.len(), 50);
    assert!(outputs[0].1.is_some());
    assert_eq!(outputs[0], outputs[1]);
}

#[test]
fn two_workers_share_one_file_and_show_tests_as_they_finish() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let report = dir.path().join("split.xml");
    let run = common::leakhunt_with(
        &fixtures(),
        &["split", "-n", "2", "--junitxml", report.to_str().unwrap()],
        &[("LEAKHUNT_FIXTURE_PIDS", pids.as_os_str())],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(final_counts(&run.stdout), "40 passed");
    // No file names: tests of one file arrive from two workers.
    let dots = format!("{}{}[100%]", ".".repeat(40), " ".repeat(33));
    assert!(run.stdout.lines().any(|l| l == dots), "{}", run.stdout);
    // Every run of a test in one worker, and both workers took tests.
    let mut worker_of: std::collections::BTreeMap<String, String> = Default::default();
    for line in std::fs::read_to_string(&pids).unwrap().lines() {
        let (test, pid) = line.split_once(' ').unwrap();
        let first = worker_of.entry(test.to_string()).or_insert(pid.to_string());
        assert_eq!(first, pid, "test {test} ran in two workers");
    }
    assert_eq!(worker_of.len(), 40);
    let workers: std::collections::BTreeSet<&String> = worker_of.values().collect();
    assert_eq!(workers.len(), 2, "{worker_of:?}");
    // The report stays in collection order.
    let xml = std::fs::read_to_string(&report).unwrap();
    let name = regex::Regex::new(r#"<testcase [^>]*?\bname="([^"]*)""#).unwrap();
    let names: Vec<&str> = name
        .captures_iter(&xml)
        .filter_map(|c| c.get(1))
        .map(|m| m.as_str())
        .collect();
    let expected: Vec<String> = (0..40).map(|n| format!("test_{n:02}")).collect();
    assert_eq!(names, expected);
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
    assert_eq!(all.len(), 70);
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

/// A leakhunt process whose output is read as it comes.
struct Session {
    child: std::process::Child,
    stdout: Arc<Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

/// Starts `WRAPPER... leakhunt ARGS` from the fixtures folder (`timeout 3
/// leakhunt ...`; no wrapper: leakhunt itself).
fn start(wrapper: &[&str], args: &[&str]) -> Session {
    start_with_env(wrapper, args, &[])
}

/// As `start`, with `env` added to leakhunt's environment.
fn start_with_env(wrapper: &[&str], args: &[&str], env: &[(&str, &std::path::Path)]) -> Session {
    let leakhunt = env!("CARGO_BIN_EXE_leakhunt");
    let mut command = match wrapper.split_first() {
        Some((program, options)) => {
            let mut command = Command::new(program);
            command.args(options).arg(leakhunt);
            command
        }
        None => Command::new(leakhunt),
    };
    let mut child = command
        .args(["--color", "no"])
        .args(args)
        .current_dir(fixtures())
        .env_remove("COLUMNS")
        .env("LEAKHUNT_CACHE_DIR", common::cache_dir())
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = Arc::new(Mutex::new(String::new()));
    let mut pipe = child.stdout.take().unwrap();
    let sink = Arc::clone(&stdout);
    let reader = std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = pipe.read(&mut chunk) {
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    });
    Session {
        child,
        stdout,
        reader,
    }
}

impl Session {
    /// Waits until the output holds `text` (a liveness guard, not a speed check).
    fn wait_for_file(&self, path: &std::path::Path) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !path.exists() {
            assert!(Instant::now() < deadline, "never made {}", path.display());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_for(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !self.stdout.lock().unwrap().contains(text) {
            assert!(Instant::now() < deadline, "never printed {text:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).unwrap();
        // SAFETY: sending a signal to our own child.
        unsafe { libc::kill(pid, signal) };
    }

    /// Waits for the session to end: exit code, stdout, stderr.
    fn finish(mut self) -> (Option<i32>, String, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "leakhunt did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
        let status = self.child.wait().unwrap();
        self.reader.join().unwrap();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            pipe.read_to_string(&mut stderr).unwrap();
        }
        let stdout = self.stdout.lock().unwrap().clone();
        (status.code(), stdout, stderr)
    }
}

/// The reports a session interrupted while `slow/test_slow.py::test_slow`
/// ran: the two quick tests before it, and the note.
fn assert_partial_reports(dir: &std::path::Path, code: Option<i32>, stdout: &str, stderr: &str) {
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert_eq!(
        verdicts(stdout),
        [
            "slow/test_slow.py::test_quick_first PASSED",
            "slow/test_slow.py::test_quick_second PASSED",
        ]
    );
    assert!(
        stdout.contains("interrupted: not every test ran"),
        "{stdout}"
    );
    assert!(!stderr.contains("interrupted again"), "{stderr}");
    let junit = dir.join("partial.xml");
    assert_valid_junit(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 2, "{xml}");
    assert!(xml.contains("interrupted: not every test ran"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("partial.json")).unwrap()).unwrap();
    assert_eq!(json["tests"].as_array().map(Vec::len), Some(2), "{json}");
}

/// Runs `WRAPPER leakhunt slow/test_slow.py` with JUnit and JSON reports,
/// sends `signals` back to back once test_slow runs (none: the wrapper
/// signals), and checks the partial reports.
fn interrupt_test_slow(wrapper: &[&str], signals: &[i32]) {
    let dir = tempfile::tempdir().unwrap();
    let (junit, json) = (
        dir.path().join("partial.xml"),
        dir.path().join("partial.json"),
    );
    let args = [
        "slow/test_slow.py",
        "-v",
        "--junitxml",
        junit.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ];
    let session = start(wrapper, &args);
    if !signals.is_empty() {
        // Reported once the next test, test_slow (1 s a run), has started.
        session.wait_for("slow/test_slow.py::test_quick_second PASSED");
    }
    for &signal in signals {
        session.signal(signal);
    }
    let (code, stdout, stderr) = session.finish();
    assert_partial_reports(dir.path(), code, &stdout, &stderr);
}

#[test]
fn ctrl_c_stops_the_session_and_keeps_a_valid_partial_report() {
    interrupt_test_slow(&[], &[libc::SIGINT]);
}

#[test]
fn two_signals_back_to_back_are_one_interruption() {
    // What a CI runner sends when it cancels a job.
    interrupt_test_slow(&[], &[libc::SIGINT, libc::SIGTERM]);
}

#[test]
fn a_timeout_from_a_script_keeps_every_report() {
    // GNU timeout, not in the foreground, sends SIGTERM to leakhunt and then
    // to its own process group, leakhunt included: one expiry, two signals.
    interrupt_test_slow(&["timeout", "--preserve-status", "-s", "TERM", "5"], &[]);
}

#[test]
fn a_second_interruption_stops_now_and_still_writes_the_reports() {
    let dir = tempfile::tempdir().unwrap();
    let (junit, json, html, started) = (
        dir.path().join("r.xml"),
        dir.path().join("r.json"),
        dir.path().join("r.html"),
        dir.path().join("started"),
    );
    let session = start_with_env(
        &[],
        &[
            "slow/test_stubborn.py",
            "-v",
            "--junitxml",
            junit.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
        &[("STUBBORN_STARTED", &started)],
    );
    // Made once test_cleans_up_slowly (0.5 s a run; after Ctrl-C it sleeps
    // on) has started.
    session.wait_for_file(&started);
    session.signal(libc::SIGINT);
    // Later than one interruption's signals (1 s), within the 3 s grace.
    std::thread::sleep(Duration::from_millis(1500));
    session.signal(libc::SIGTERM);
    let (code, stdout, stderr) = session.finish();
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert_eq!(
        stderr, "interrupted again: stopping the running tests now\n",
        "{stdout}"
    );
    assert_eq!(
        verdicts(&stdout),
        ["slow/test_stubborn.py::test_quick PASSED"]
    );
    assert!(
        stdout.contains("interrupted: not every test ran"),
        "{stdout}"
    );
    assert_valid_junit(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 1, "{xml}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        report["tests"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("test_quick"), "no test in the HTML report");
}

/// A pytest file whose class shares a class-scoped fixture: the class spans
/// the middle of the file, where an idle worker would cut it.
const PINNED_FILE: &str = r#"
import os
import time

import pytest


def _record(name):
    with open(os.environ["LEAKHUNT_FIXTURE_PIDS"], "a") as out:
        out.write(f"{name} {os.getpid()}\n")


@pytest.mark.parametrize("n", range(10))
def test_free(n):
    time.sleep(0.005)
    _record(f"free{n}")


@pytest.fixture(scope="class")
def shared():
    return object()


class TestPinned:
    @pytest.mark.parametrize("n", range(20))
    def test_in_class(self, shared, n):
        time.sleep(0.005)
        _record(f"class{n}")


@pytest.mark.parametrize("n", range(6))
def test_free_after(n):
    time.sleep(0.005)
    _record(f"after{n}")
"#;

type Workers = std::collections::BTreeMap<String, std::collections::BTreeSet<String>>;

/// Runs `leakhunt -n 2 -q` under pytest on one file whose tests append
/// "NAME PID" to $LEAKHUNT_FIXTURE_PIDS: the final counts, and for each name
/// without its trailing digits, the workers that ran it.
fn workers_by_name(file: &str, contents: &str) -> (String, Workers) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(file), contents).unwrap();
    let pids = dir.path().join("pids");
    let venv = common::pytest_venv();
    let run = common::leakhunt_with(
        dir.path(),
        &["--python", venv.to_str().unwrap(), "-n", "2", "-q"],
        &[("LEAKHUNT_FIXTURE_PIDS", pids.as_os_str())],
    );
    let mut workers = Workers::default();
    for line in std::fs::read_to_string(&pids).unwrap().lines() {
        let (test, pid) = line.split_once(' ').unwrap();
        let name = test.trim_end_matches(|c: char| c.is_ascii_digit());
        workers
            .entry(name.to_string())
            .or_default()
            .insert(pid.to_string());
    }
    (final_counts(&run.stdout), workers)
}

/// How many workers ran the tests of each name.
fn spread(workers: &Workers) -> Vec<(&str, usize)> {
    workers
        .iter()
        .map(|(name, pids)| (name.as_str(), pids.len()))
        .collect()
}

#[test]
fn under_pytest_a_class_scoped_fixture_keeps_its_class_in_one_worker() {
    let (counts, workers) = workers_by_name("test_pins.py", PINNED_FILE);
    assert_eq!(counts, "36 passed");
    assert_eq!(workers["class"].len(), 1, "{workers:?}");
    let all: std::collections::BTreeSet<&String> = workers.values().flatten().collect();
    assert_eq!(all.len(), 2, "{workers:?}");
}

/// Two unittest classes: pytest gives each a class-scoped fixture that calls
/// its setUpClass and tearDownClass, but only WithSetUp has one of its own.
const UNITTEST_FILE: &str = r#"
import os
import time
import unittest


def _method(name):
    def test(self):
        time.sleep(0.005)
        with open(os.environ["LEAKHUNT_FIXTURE_PIDS"], "a") as out:
            out.write(f"{name} {os.getpid()}\n")

    return test


class Inherited(unittest.TestCase):
    pass


for n in range(40):
    setattr(Inherited, f"test_{n:02d}", _method(f"inherited{n}"))


class WithSetUp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = object()


for n in range(10):
    setattr(WithSetUp, f"test_{n:02d}", _method(f"withsetup{n}"))
"#;

#[test]
fn under_pytest_a_unittest_class_is_kept_in_one_worker_only_for_its_own_set_up_class() {
    let (counts, workers) = workers_by_name("test_classes.py", UNITTEST_FILE);
    assert_eq!(counts, "50 passed");
    assert_eq!(
        spread(&workers),
        [("inherited", 2), ("withsetup", 1)],
        "{workers:?}"
    );
}

/// Test ids made from a set follow its order, which depends on the hash seed;
/// each process drew its own, so the workers collected the tests in other
/// orders and leakhunt stopped (packaging 24.2's suite did, under -n 2).
#[test]
fn workers_share_one_hash_seed_so_set_ordered_ids_agree() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("test_set_ids.py"),
        "import pytest\n\n\
         @pytest.mark.parametrize(\"name\", {f\"name{n}\" for n in range(12)})\n\
         def test_name(name):\n    assert name.startswith(\"name\")\n",
    )
    .unwrap();
    let venv = common::pytest_venv();
    let run = common::leakhunt_in(
        dir.path(),
        &["--python", venv.to_str().unwrap(), "-n", "2", "-q"],
    );
    assert_eq!(final_counts(&run.stdout), "12 passed", "{}", run.stdout);
    assert_eq!(run.code, 0);
}

/// Whether process `pid` still runs (a zombie waiting for its reaper does not).
fn is_running(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
        state != Some(Some('Z'))
    })
}

#[test]
fn a_hung_test_s_own_processes_end_with_its_worker() {
    // Werkzeug's dev-server tests: stopped for hanging, the worker died and
    // the server it started lived on, orphaned, at 99 % CPU.
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("child.pid");
    let run = common::leakhunt_with(
        &common::fixtures(),
        &["hung_with_child", "--timeout", "2"],
        &[("LEAKHUNT_FIXTURE_CHILD_PID", pid_file.as_os_str())],
    );
    assert_eq!(final_counts(&run.stdout), "1 failed", "{}", run.stdout);
    let pid = std::fs::read_to_string(&pid_file).expect("the test wrote its child's pid");
    let deadline = Instant::now() + Duration::from_secs(5);
    while is_running(&pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!is_running(&pid), "the hung test's child {pid} still runs");
}
