//! The diagnosis of each kind of leak in fixtures/leaky: the growing type,
//! the allocating line and the root that holds it, exactly.

mod common;

use common::{final_counts, fixtures, leakhunt, warnings_summary};

/// Every line of `expected` appears, whole, in `out`.
fn assert_lines(out: &str, expected: &[&str]) {
    let lines: Vec<&str> = out.lines().collect();
    for line in expected {
        assert!(lines.contains(line), "missing line {line:?} in:\n{out}");
    }
}

/// Some line of `out` starts with each of `expected` (for amounts that move
/// by a few bytes with the interpreter's free lists).
fn assert_starts(out: &str, expected: &[&str]) {
    for start in expected {
        assert!(
            out.lines().any(|l| l.starts_with(start)),
            "no line starts with {start:?} in:\n{out}"
        );
    }
}

#[test]
fn gc_tracked_objects_name_type_line_and_global() {
    let run = leakhunt(&["leaky/test_objects.py", "leaky/test_seed_article.py"]);
    assert_lines(
        &run.stdout,
        &[
            "       +10       +560 B  test_objects.Item",
            "  leaky/test_objects.py:39: +880 B, +20 blocks",
            "      KEPT_INSTANCES.append(Item(i))",
            "  test_objects.Item: module test_objects -> KEPT_INSTANCES (list) -> [235] -> test_objects.Item",
            "  list: module test_objects -> KEPT_LISTS (list) -> [235] -> list",
            "  dict: module test_objects -> KEPT_DICTS (list) -> [235] -> dict",
            "  cell: module test_objects -> KEPT_CLOSURES (list) -> [235] (function) -> .__closure__ (tuple) -> [0] -> cell",
            "  generator: module test_objects -> KEPT_GENERATORS (list) -> [235] -> generator",
            "  traceback: module test_objects -> KEPT_TRACEBACKS (list) -> [23] (traceback) -> .tb_next -> traceback",
            "    +10000   +546.9 KiB  test_seed_article.Person",
            "  leaky/test_seed_article.py:20: +922.1 KiB, +20000 blocks",
            "  test_seed_article.Person: module test_seed_article -> PEOPLE (list) -> [235000] -> test_seed_article.Person",
        ],
    );
    assert_starts(&run.stdout, &["  leaky/test_objects.py:73: +4."]);
}

#[test]
fn a_global_rebound_every_run_is_not_blamed_for_what_a_registry_keeps() {
    // Three quarters down the gc's list, the object that stood for the type
    // was the last run's, the global's: `module test_rebound_global ->
    // LATEST -> list`. One the pass's second run made and every later run
    // left is the registry's.
    let run = leakhunt(&["rebound_global"]);
    assert_eq!(final_counts(&run.stdout), "1 leaked", "{}", run.stdout);
    assert_lines(
        &run.stdout,
        &[
            "cause: list: module test_rebound_global -> REGISTRY (list) -> […] -> list",
            "  list: module test_rebound_global -> REGISTRY (list) -> [24] -> list",
        ],
    );
}

/// The one leak of `fixture` is diagnosed to the end, with these lines.
fn assert_diagnosed(fixture: &str, expected: &[&str]) {
    let run = leakhunt(&[fixture]);
    assert_eq!(final_counts(&run.stdout), "1 leaked", "{}", run.stdout);
    assert!(
        !run.stdout.contains("diagnosis incomplete"),
        "{}",
        run.stdout
    );
    assert_lines(&run.stdout, expected);
}

#[test]
fn a_class_without_module_does_not_end_the_diagnosis() {
    // Reading its __module__ raised AttributeError: "diagnosis incomplete:
    // leakhunt could not diagnose this leak", with no types and no sites.
    // The class itself is held by the reference the test took and never
    // released, as C code would.
    assert_diagnosed(
        "moduleless_class",
        &[
            "cause: type: only 4 objects refer to it, and nothing the gc sees refers to them: \
             a reference was taken and never released (C code, e.g. a missing Py_DECREF)",
            "  dict: a class with no __module__ -> Moduleless.__dict__ -> dict",
            "        +1     +1.6 KiB  type",
            "      cls = type(\"Moduleless\", (), {})",
        ],
    );
}

#[test]
fn instances_of_a_class_named_after_a_module_never_imported_are_the_tests() {
    // On 3.11 tracemalloc cannot look up an instance of a class with a
    // managed dict, and one without attributes had nothing else to be looked
    // up by: "no container refers to what these lines allocated: ... a
    // missing Py_DECREF", with no growing type.
    assert_diagnosed(
        "named_elsewhere",
        &[
            "cause: generated.records.Record: module test_named_elsewhere -> HOLDER \
             (test_named_elsewhere.Holder) -> .records (list) -> […] -> generated.records.Record",
            "        +1        +56 B  generated.records.Record",
            "      HOLDER.records.append(Record())",
        ],
    );
}

#[test]
fn what_a_running_threads_local_holds_is_held_by_that_thread() {
    // The Event is a local of the thread's running frame, which the gc does
    // not see: "only 3 objects refer to it, and nothing the gc sees refers
    // to them: a reference was taken and never released".
    assert_diagnosed(
        "thread_locals",
        &[
            "cause: threading.Event: thread 'waiter' -> wait_for_ever() local done -> \
             threading.Event",
            "  collections.deque: thread 'waiter' -> wait_for_ever() local done (threading.Event) \
             -> ._cond (threading.Condition) -> ._waiters -> collections.deque",
            "        +1  thread \"waiter\" running test_thread_locals.wait_for_ever, started at \
             thread_locals/test_thread_locals.py:16",
        ],
    );
}

#[test]
fn untracked_objects_are_found_through_their_containers() {
    let run = leakhunt(&["leaky/test_untracked.py"]);
    assert_lines(
        &run.stdout,
        &[
            "       +10       +570 B  str  (not gc-tracked)",
            "  leaky/test_untracked.py:24: +570 B, +10 blocks",
            "      STRINGS.add(f\"key-{n}-{i}\")",
            "  str: module test_untracked -> STRINGS (set) -> str",
            "       +10     +1.3 KiB  bytes  (not gc-tracked)",
            "  bytes: module test_untracked -> BLOBS (set) -> bytes",
            "       +10       +280 B  int  (not gc-tracked)",
            "  int: module test_untracked -> BIG_INTS (set) -> int",
            "  tuple: module test_untracked -> TUPLES (set) -> tuple",
            "       +10     +1.8 KiB  dict  (not gc-tracked)",
            "  int: module test_untracked -> ATOM_DICTS (dict) -> (key) -> int",
        ],
    );
    assert_starts(&run.stdout, &["  leaky/test_untracked.py:45: +"]);
}

/// An lru_cache's dict of strings is not tracked, and the gc does not visit
/// a dict's keys when they are all strings; a cache of 5,000 names from
/// before the runs had its new keys judged by a sample of the old ones.
/// Both read "no container refers to what these lines allocated" (Babel's
/// localedata.exists).
#[test]
fn strings_an_lru_cache_keeps_as_keys_are_held_by_that_cache() {
    let run = leakhunt(&["untracked_lru_cache"]);
    assert_eq!(final_counts(&run.stdout), "2 leaked", "{}", run.stdout);
    assert_lines(
        &run.stdout,
        &[
            "cause: str: lru_cache of test_untracked_lru_cache.exists -> (dict) -> (key) -> str",
            "cause: str: lru_cache of test_untracked_lru_cache.known -> (dict) -> (key) -> str",
        ],
    );
    assert_starts(&run.stdout, &["        +1        +5"]);
    assert!(!run.stdout.contains("Py_DECREF"), "{}", run.stdout);
}

/// An untracked object's holder may be untracked too (ints in a tuple in a
/// dict of a module's cache), where gc.get_referrers cannot see it: the
/// chain goes through it, not to "a missing Py_DECREF".
#[test]
fn untracked_objects_held_by_untracked_containers_have_their_chain() {
    let run = leakhunt(&["untracked_holders"]);
    assert_lines(
        &run.stdout,
        &[
            "cause: int: module test_nested_cache -> CACHE (dict) -> […] (dict) -> […] (tuple) -> […] -> int",
            "  int: module test_nested_cache -> CACHE (dict) -> [22] (dict) -> ['k0'] (tuple) -> [1] -> int",
            "  tuple: module test_nested_cache -> CACHE (dict) -> [22] (dict) -> ['k0'] -> tuple",
            // The inner dicts' keys, which the gc does not visit (all strings).
            "  str: module test_nested_cache -> CACHE (dict) -> [22] (dict) -> (key) -> str",
        ],
    );
    assert!(
        !run.stdout.contains("nothing refers to it"),
        "{}",
        run.stdout
    );
}

#[test]
fn in_place_intermittent_and_native_leaks() {
    let run = leakhunt(&[
        "leaky/test_inplace.py",
        "leaky/test_intermittent.py",
        "leaky/test_native.py",
    ]);
    assert_lines(
        &run.stdout,
        &[
            "grown in place, per run (no new objects):",
            "  len    +1000     +1.1 KiB  bytearray",
            "  leaky/test_inplace.py:9: +843.75 B, +0 blocks",
            "  bytearray: module test_inplace -> BUF -> bytearray",
            "  len       +1        +16 B  list",
            "  list: module test_inplace -> CACHED -> list",
            "  test_intermittent.Item: module test_intermittent -> EVERY_SECOND (list) -> [57] -> test_intermittent.Item",
            "  leaky/test_intermittent.py:27: +100 B, +2.50 blocks",
            "  object: module test_intermittent -> SMALL (list) -> [67] -> object",
            "native: it grew outside Python's object allocator (no new objects or blocks): C code allocates it, with malloc or with PyMem_Malloc for more than 512 bytes. To see where:",
            "      LIBC.memset(LIBC.malloc(CHUNK), 1, CHUNK)",
            "  PYTHONMALLOC=malloc valgrind --leak-check=full --show-leak-kinds=definite python -m pytest leaky/test_native.py::test_malloc_never_freed",
            "  list: nothing refers to it: a reference was taken and never released (C code, e.g. a missing Py_DECREF)",
            "  leaky/test_native.py:31: +36 B, +1 blocks",
            "no container refers to what these lines allocated: a reference was taken and never released (C code, e.g. a missing Py_DECREF)",
        ],
    );
    // Grown containers whose holder is not found are dropped, not missed.
    assert!(
        !run.stdout.contains("diagnosis incomplete"),
        "{}",
        run.stdout
    );
    // The line that called malloc, read from mallinfo2 around the user's lines
    // (about 256 KiB a run; the amount moves with the allocator's own blocks).
    assert_starts(&run.stdout, &["  leaky/test_native.py:19: +2"]);
    // With the C functions the line calls through ctypes, found statically.
    assert!(run
        .stdout
        .contains(" of malloc (C functions called on this line: memset, malloc)\n"));
}

#[test]
fn leaked_descriptors_and_threads_name_their_target() {
    let run = leakhunt(&["leaky/test_resources.py"]);
    assert_lines(
        &run.stdout,
        &[
            "leaked file descriptors, per run:",
            "        +1  leaky/test_resources.py  no file or socket object owns it, opened at leaky/test_resources.py:14",
            "        +1  socket:[…]  socket.socket created at leaky/test_resources.py:19",
            "  socket.socket: module test_resources -> SOCKETS (list) -> [23] -> socket.socket",
            "        +1  leaky/test_resources.py  _io.TextIOWrapper created at leaky/test_resources.py:24",
            "  _io.TextIOWrapper: module test_resources -> FILES (list) -> [23] -> _io.TextIOWrapper",
            "leaked threads, per run:",
            "        +1  thread \"Thread-28 (wait)\" running threading.Event.wait, started at leaky/test_resources.py:29",
            "      threading.Thread(target=NEVER_SET.wait, daemon=True).start()",
        ],
    );
}

#[test]
fn registries_the_interpreter_keeps_are_named_as_roots() {
    let run = leakhunt(&["leaky/test_interpreter_roots.py"]);
    assert_lines(
        &run.stdout,
        &[
            "  function: atexit callbacks (atexit.register) -> function",
            "  function: codec search functions (codecs.register) -> [24] -> function",
            "  list: signal handler for SIGUSR2 (signal.signal) -> .kept (list) -> [23] -> list",
            "  list: sys.excepthook replacement -> .kept (list) -> [23] -> list",
            "  list: threading.excepthook replacement -> .kept (list) -> [23] -> list",
            "  list: faulthandler's file (faulthandler.enable / register) -> (test_interpreter_roots._Stream) -> .kept (list) -> [23] -> list",
        ],
    );
    assert!(!run.stdout.contains("missing Py_DECREF"), "{}", run.stdout);
}

#[test]
fn a_leak_stays_leaked_when_its_diagnosis_dies() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let run = leakhunt(&["leaky_then_crash", "--json", json.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_lines(
        &run.stdout,
        &[
            "diagnosis incomplete: the diagnosis did not finish (its worker exited with code 3, during run 23); the leak stands on its judged runs",
        ],
    );
    assert_starts(
        &run.stdout,
        &["LEAKED leaky_then_crash/test_dies_in_diagnosis.py::test_leaks_then_dies_while_diagnosed - +1 objects/run, +2 blocks/run, +"],
    );
    assert_eq!(final_counts(&run.stdout), "1 leaked");
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let leak = &value["tests"][0];
    assert_eq!(leak["outcome"], "leaked");
    // The judged series is kept.
    assert_eq!(leak["series"]["objects"].as_array().unwrap().len(), 21);
}

#[test]
fn leaks_of_one_cause_are_diagnosed_once_and_keyed_alike() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let xml = dir.path().join("junit.xml");
    let html = dir.path().join("report.html");
    let run = leakhunt(&[
        "one_cause",
        "--json",
        json.to_str().unwrap(),
        "--junitxml",
        xml.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(final_counts(&run.stdout), "4 leaked");
    let cause = "test_one_cause.Handler: module test_one_cause -> REGISTRY (list) -> […] -> test_one_cause.Handler";
    let same = format!(
        "same cause as one_cause/test_one_cause.py::test_registers_a (diagnosed there): {cause}"
    );
    assert_lines(
        &run.stdout,
        &[
            &format!("cause: {cause}"),
            "the same cause leaks in 2 more tests:",
            "  one_cause/test_one_cause.py::test_registers_b",
            "  one_cause/test_one_cause.py::test_registers_c",
            "cause: list: module test_one_cause -> OTHER (dict) -> […] -> list",
        ],
    );
    assert_eq!(run.stdout.matches(&same).count(), 2, "{}", run.stdout);
    assert_eq!(run.stdout.matches("what grows, per run").count(), 2);
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let causes: Vec<&str> = value["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["cause"].as_str().unwrap())
        .collect();
    assert_eq!(causes[0], causes[1]);
    assert_eq!(causes[0], causes[2]);
    assert_ne!(causes[0], causes[3]);
    // The first leak of a cause gets the full pass; the next ones of that
    // cause only the check (its first two runs) that they match it. The last
    // test grows lists, not Handlers: its pass goes on past the check.
    let checks: Vec<(u64, Option<&str>)> = value["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["diagnosis"]["runs"].as_u64().unwrap(),
                t["diagnosis"]["same_cause_as"].as_str(),
            )
        })
        .collect();
    let first = Some("one_cause/test_one_cause.py::test_registers_a");
    assert_eq!(
        checks,
        [(6, None), (2, first), (2, first), (6, None)],
        "{value}"
    );
    assert!(value["tests"][0]["diagnosis"]
        .get("same_cause_as")
        .is_none());
    // Its chain: from the same number of runs as without a check before.
    assert_lines(
        &run.stdout,
        &["  list: module test_one_cause -> OTHER (dict) -> [23] -> list"],
    );
    // JUnit keeps one <failure> per test, each naming its cause.
    let xml = std::fs::read_to_string(&xml).unwrap();
    assert_eq!(xml.matches("<failure").count(), 4);
    assert_eq!(xml.matches(&format!("cause: {cause}")).count(), 3, "{xml}");
    // HTML: the same grouping, under each leak's charts.
    let html = std::fs::read_to_string(&html).unwrap();
    assert_eq!(
        html.matches("the same cause leaks in 2 more tests:")
            .count(),
        1
    );
    assert_eq!(
        html.matches(
            "same cause as one_cause/test_one_cause.py::test_registers_a (diagnosed there)"
        )
        .count(),
        2
    );
}

#[test]
fn under_pytest_the_diagnosis_shows_only_the_tests_own_growth() {
    let venv = common::pytest_venv();
    let run = leakhunt(&[
        "--python",
        venv.to_str().unwrap(),
        "--engine",
        "pytest",
        "leaky/test_resources.py::test_fd_leaked_by_os_open",
        "leaky/test_native.py::test_malloc_never_freed",
        "leaky/test_inplace.py::test_bytearray_grows_in_place",
        "leaky/test_interpreter_roots.py::test_atexit_callback_registered_every_run",
    ]);
    assert_eq!(final_counts(&run.stdout), "4 leaked", "{}", run.stdout);
    // Neither pytest's logging plugin nor any other library line or root.
    assert!(!run.stdout.contains("site-packages"), "{}", run.stdout);
    assert!(!run.stdout.contains("_pytest"), "{}", run.stdout);
    assert!(!run.stdout.contains("StringIO"), "{}", run.stdout);
    assert_lines(
        &run.stdout,
        &[
            "        +1  leaky/test_resources.py  no file or socket object owns it, opened at leaky/test_resources.py:14",
            "  bytearray: module test_inplace -> BUF -> bytearray",
            "  function: atexit callbacks (atexit.register) -> function",
            "      LIBC.memset(LIBC.malloc(CHUNK), 1, CHUNK)",
        ],
    );
}

#[test]
fn junit_points_at_the_allocating_line_and_json_holds_the_diagnosis() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("out/junit.xml");
    let json = dir.path().join("out/report.json");
    let run = leakhunt(&[
        "leaky/test_objects.py::test_instances_kept",
        "clean/test_noise.py::test_pass",
        "--junitxml",
        xml.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let xml = std::fs::read_to_string(&xml).unwrap();
    assert!(
        xml.contains("<![CDATA[leaky/test_objects.py:39: leaky/test_objects.py::test_instances_kept leaked\n"),
        "{xml}"
    );
    assert!(
        xml.contains("  test_objects.Item: module test_objects -> KEPT_INSTANCES (list) -> [235] -> test_objects.Item\n"),
        "{xml}"
    );
    let text = std::fs::read_to_string(&json).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["schema"], "leakhunt-report/1");
    assert_eq!(
        value["summary"],
        serde_json::json!({"leaked": 1, "passed": 1})
    );
    let leak = &value["tests"][0];
    assert_eq!(leak["outcome"], "leaked");
    assert_eq!(leak["series"]["objects"].as_array().unwrap().len(), 21);
    let diagnosis = &leak["diagnosis"];
    assert_eq!(diagnosis["runs"], 6);
    assert_eq!(diagnosis["types"][0]["name"], "test_objects.Item");
    assert_eq!(diagnosis["types"][0]["count_per_run"], 10.0);
    assert_eq!(
        diagnosis["sites"][0]["location"],
        serde_json::json!({"path": "leaky/test_objects.py", "line": 39, "source": "KEPT_INSTANCES.append(Item(i))"})
    );
    let clean = &value["tests"][1];
    assert_eq!(clean["outcome"], "passed");
    assert_eq!(clean["diagnosis"], serde_json::Value::Null);
    assert!(fixtures().exists());
}

#[test]
fn resource_warnings_are_warnings_unless_strict() {
    let run = leakhunt(&["unclosed", "-q"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let file = fixtures().join("unclosed/test_unclosed.py");
    let opened = format!(
        "  unclosed/test_unclosed.py:10: ResourceWarning: unclosed file <_io.TextIOWrapper name='{}' mode='r' encoding='utf-8'>",
        file.display()
    );
    assert!(run.stdout.contains(&opened), "{}", run.stdout);
    assert_lines(
        &run.stdout,
        &[
            "unclosed/test_unclosed.py::test_file_never_closed",
            "    assert open(__file__, encoding=\"utf-8\").read(3) == '\"\"\"'",
            "  ResourceWarning: unclosed event loop <_UnixSelectorEventLoop running=False closed=False debug=False> (5 runs)",
        ],
    );
    // A socket's place comes from the socket.__new__ audit event.
    assert_starts(
        &run.stdout,
        &["  unclosed/test_unclosed.py:15: ResourceWarning: unclosed <socket.socket fd="],
    );
    assert_eq!(final_counts(&run.stdout), "4 passed, 3 warnings");
    let run = leakhunt(&["unclosed", "-q", "--strict-resources"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("FAILED unclosed/test_unclosed.py::test_socket_never_closed - ResourceWarning: unclosed <socket.socket fd="),
        "{}",
        run.stdout
    );
    assert_eq!(final_counts(&run.stdout), "3 failed, 1 passed");
}

/// A file dropped unclosed under a new name every run warns with new text
/// every run. One entry per message grew the worker's heap by about 200
/// bytes a run, and the test was LEAKED with one warning line per run.
#[test]
fn a_resource_warning_that_reads_differently_every_run_is_one_warning() {
    let run = leakhunt(&["unclosed_renamed", "-q"]);
    let summary = warnings_summary(&run.stdout);
    assert_eq!(summary.len(), 3, "{}", run.stdout);
    assert_eq!(
        summary[0],
        "unclosed_renamed/test_renamed.py::test_file_of_a_new_name_never_closed"
    );
    // The name of its first run (a temporary folder, the worker's pid, 0).
    let pid = summary[1]
        .strip_prefix("  ResourceWarning: unclosed file <_io.TextIOWrapper name='")
        .and_then(|rest| rest.strip_suffix("-0' mode='r' encoding='utf-8'> (5 runs)"))
        .and_then(|name| name.rsplit_once("/leakhunt-"))
        .map(|(_, pid)| pid);
    assert!(
        pid.is_some_and(|pid| pid.parse::<u32>().is_ok()),
        "{}",
        run.stdout
    );
    assert_eq!(summary[2], "");
    assert_eq!(final_counts(&run.stdout), "1 passed, 1 warning");
    assert_eq!(run.code, 0);
}

/// A leak whose runs take 11 s once traced (as a parser's are): its
/// diagnosis stops after one run, before a second would end past the 20 s
/// budget (it ran 2, 22 s; with pyparsing's 30-43 s runs the second outlasted
/// the supervisor's 60 s limit, which stopped the worker).
#[test]
fn a_diagnosis_stops_before_a_run_that_would_end_past_its_budget() {
    let run = leakhunt(&["slow_diagnosis", "-q"]);
    assert_eq!(final_counts(&run.stdout), "1 leaked");
    let note = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("diagnosis incomplete: the diagnosis stopped after 1 run ("))
        .and_then(|rest| {
            rest.strip_suffix(
                " s, traced): one more would end past its 20 s budget; the leak stands on its judged runs",
            )
        });
    // "11.0 s, the longest 11.0"
    let (spent, longest) = note
        .and_then(|n| n.split_once(" s, the longest "))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    for seconds in [spent, longest] {
        let seconds: f64 = seconds.parse().expect("seconds");
        assert!((11.0..20.0).contains(&seconds), "{}", run.stdout);
    }
    assert_eq!(run.code, 1);
}

/// A test that starts and stops tracemalloc itself ends the diagnosis's
/// tracing: its sites would be made up (msgpack's tests got "+1.2 MiB of
/// malloc" at a line, for 400 bytes a run), so there are none, and a note
/// says why the diagnosis is empty.
#[test]
fn a_test_that_stops_tracemalloc_gets_a_note_not_made_up_sites() {
    let run = leakhunt(&["own_tracing"]);
    assert_eq!(final_counts(&run.stdout), "1 leaked");
    let leak: Vec<&str> = run
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("own_tracing/test_own_tracing.py:10: "))
        .take_while(|l| !l.starts_with("====="))
        .collect();
    assert_eq!(leak.len(), 8, "{}", run.stdout);
    assert_eq!(
        leak[7],
        "diagnosis incomplete: the test stops or restarts tracemalloc itself, which ends \
         the diagnosis's tracing: where its memory was allocated cannot be told"
    );
    assert_eq!(run.code, 1);
}

#[test]
fn a_chain_of_forwarding_proxies_is_diagnosed_without_running_them() {
    // One attribute read on the outer proxy runs 2**20 of its __getattr__
    // (two seconds): a diagnosis that read attributes through getattr()
    // would run out of its time budget and say so in its note.
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let run = leakhunt(&["proxy_chain", "--json", json.to_str().unwrap()]);
    assert_eq!(final_counts(&run.stdout), "1 leaked", "{}", run.stdout);
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let leak = &value["tests"][0];
    assert_eq!(
        leak["nodeid"],
        "proxy_chain/test_proxy_chain.py::test_keeps_a_chain_of_proxies"
    );
    assert_eq!(leak["outcome"], "leaked");
    // The judged series is kept: baseline and one sample per judged run.
    let judged = leak["runs"].as_u64().unwrap() - leak["warmup"].as_u64().unwrap();
    let objects = leak["series"]["objects"].as_array().unwrap();
    assert_eq!(objects.len() as u64, judged + 1);
    // The baseline already counts what the last warm-up kept: the heap is
    // frozen before it.
    assert_eq!(objects[0].as_u64(), Some(21));
    assert_eq!(objects.last().unwrap().as_u64(), Some(21 * (judged + 1)));
    // The diagnosis finished all its runs, with no note of running out of time.
    let diagnosis = &leak["diagnosis"];
    assert_eq!(diagnosis["note"], serde_json::Value::Null, "{diagnosis}");
    assert_eq!(diagnosis["runs"], 6);
    let types: Vec<(&str, f64)> = diagnosis["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap(),
                t["count_per_run"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        types,
        [
            ("test_proxy_chain.Proxy", 20.0),
            ("test_proxy_chain.Payload", 1.0)
        ]
    );
}

#[test]
fn an_exception_kept_in_a_global_names_its_traceback() {
    // Its frames were past the depth the search went up to: no cause, no
    // "what keeps it alive", and nothing said why.
    assert_diagnosed(
        "exception_traceback/test_reraised.py",
        &[
            "cause: frame: module test_reraised -> BOOM (ValueError) -> .__traceback__ (traceback) \
             -> .tb_next (traceback) x9 -> .tb_frame -> frame",
            "        +2       +312 B  frame",
            "        +2       +112 B  traceback",
            "      raise BOOM",
            "  traceback: module test_reraised -> BOOM (ValueError) -> .__traceback__ (traceback) \
             -> .tb_next (traceback) x8 -> .tb_next -> traceback",
        ],
    );
}

#[test]
fn a_holder_past_the_search_depth_is_said_to_be_missing() {
    let run = leakhunt(&["exception_traceback/test_deep_chain.py"]);
    assert_eq!(final_counts(&run.stdout), "1 leaked", "{}", run.stdout);
    assert_lines(
        &run.stdout,
        &[
            "diagnosis incomplete: no module, class or thread was found holding what grows \
             within the references searched up from it; the leak stands on its judged runs",
            "       +10       +400 B  test_deep_chain.Node",
            "      HEAD = Node(HEAD)",
        ],
    );
    assert!(
        !run.stdout.contains("what keeps it alive"),
        "{}",
        run.stdout
    );
}

#[test]
fn tests_run_from_site_packages_are_the_user_s_code() {
    assert_diagnosed(
        "installed_tests/site-packages/leakpkg/tests",
        &[
            "cause: leakpkg.tests.test_installed.Thing: module leakpkg.tests.test_installed \
             -> KEEP (list) -> […] -> leakpkg.tests.test_installed.Thing",
            "       +50     +2.7 KiB  leakpkg.tests.test_installed.Thing",
            "      KEEP.extend(Thing() for _ in range(50))",
        ],
    );
}

#[test]
fn an_lru_cache_the_runs_made_is_not_what_holds_the_leak() {
    // Each run's object has an lru_cache of its own: the chain stopped at
    // it ("lru_cache of urllib.parse.urljoin"), which leaks with the object.
    assert_diagnosed(
        "new_lru_cache",
        &[
            "cause: test_new_lru_cache.Resolver: lru_cache of test_new_lru_cache.Resolver.resolve \
             -> (dict) -> (key) (tuple) -> […] -> test_new_lru_cache.Resolver",
            "  functools._lru_cache_wrapper: lru_cache of test_new_lru_cache.Resolver.resolve \
             -> (dict) -> (key) (tuple) -> [0] (test_new_lru_cache.Resolver) -> .join \
             -> functools._lru_cache_wrapper",
        ],
    );
}

#[test]
fn a_class_that_is_its_own_type_does_not_end_the_diagnosis() {
    // The gc clears such a class and never frees it: reading its __name__
    // raised AttributeError, and its cleared __mro__ (None) a TypeError.
    // Its metaclass's table of subclasses (a dict only the type's C slot
    // holds) keeps a weak reference to it, which is no reference a C
    // extension forgot, and no cause.
    let run = leakhunt(&["selftyped_class"]);
    assert_starts(
        &run.stdout,
        &[
            "  weakref.ReferenceType: a class's table of subclasses (weak references, gone with \
           each subclass) -> [",
        ],
    );
    assert_diagnosed(
        "selftyped_class",
        &[
            "cause: dict: a class with no __module__ -> \
             test_makes_a_class_that_is_its_own_type.<locals>.Sentinel.__dict__ -> dict",
            "      class Sentinel(Meta, metaclass=Meta):",
        ],
    );
}

#[test]
fn a_class_made_at_run_time_is_not_its_module_s() {
    // Made under the name of the module's own class, as unittest.mock
    // makes one per MagicMock: it was taken for that class, a root, and
    // the chain read `module test_runtime_subclass -> Handler.seen`, an
    // attribute the module's Handler does not have.
    let run = leakhunt(&["runtime_subclass"]);
    assert_eq!(final_counts(&run.stdout), "1 leaked", "{}", run.stdout);
    assert_starts(
        &run.stdout,
        &[
            "cause: type: module test_runtime_subclass -> KEPT (list) -> […] (test_runtime_subclass.Handler) -> type",
            "  bytearray: module test_runtime_subclass -> KEPT (list) -> [",
            "  dict: module test_runtime_subclass -> KEPT (list) -> [",
        ],
    );
    assert!(!run.stdout.contains("-> Handler."), "{}", run.stdout);
}

#[test]
fn atexit_keeps_a_callback_s_arguments() {
    // psutil's tests register a cleanup of each temporary path they make:
    // 40 leaks read "a reference was taken and never released (C code, e.g.
    // a missing Py_DECREF)".
    let run = leakhunt(&["atexit_arguments"]);
    assert_eq!(final_counts(&run.stdout), "2 leaked", "{}", run.stdout);
    assert_lines(
        &run.stdout,
        &[
            "no container refers to what these lines allocated, but atexit callbacks grew, +1 a \
             run: atexit keeps each callback and its arguments in C (atexit.register)",
            "cause: test_atexit_arguments.Holder: atexit callbacks (atexit.register), a \
             callback's arguments -> […] -> test_atexit_arguments.Holder",
        ],
    );
    assert!(!run.stdout.contains("Py_DECREF"), "{}", run.stdout);
}

#[test]
fn traces_too_shallow_to_reach_the_test_say_why_nothing_is_shown() {
    // bidict's microbenchmarks (0.8 s a run): their note blamed the depth
    // for where allocations "may stop short", over an empty diagnosis.
    let run = leakhunt(&["shallow_traces"]);
    assert_eq!(final_counts(&run.stdout), "1 leaked", "{}", run.stdout);
    let note = run
        .stdout
        .lines()
        .find(|line| line.starts_with("diagnosis incomplete: traced "))
        .unwrap_or_else(|| panic!("no depth note in:\n{}", run.stdout));
    assert!(
        note.ends_with(
            " untraced: nothing that grew was traced back to the test's own lines, so no \
             type, line or holder is shown"
        ),
        "{note}"
    );
    assert!(!run.stdout.contains("what grows"), "{}", run.stdout);
}

#[test]
fn a_temporary_files_descriptor_left_open_is_named_where_it_was_opened() {
    // Before: the audit hook kept each run's path, which read as "+65 B,
    // +1 blocks" allocated on the test's line, "a missing Py_DECREF", and
    // one row of +0.17 per file, none of them placed (the file's link ends
    // in " (deleted)").
    let run = leakhunt(&["deleted_temporary"]);
    let out = &run.stdout;
    let opened = "opened at deleted_temporary/test_deleted_temporary.py:14";
    assert!(
        out.contains(&format!(
            "cause: a descriptor no object owns {opened}\nleaked file descriptors, per run:\n"
        )),
        "{out}"
    );
    let row = out
        .lines()
        .find(|line| line.starts_with("        +1  "))
        .unwrap_or_default();
    assert!(
        row.ends_with(&format!(
            " (deleted) and others  no file or socket object owns it, {opened}"
        )),
        "{out}"
    );
    assert!(!out.contains("where it was allocated"), "{out}");
    assert!(!out.contains("Py_DECREF"), "{out}");
    assert_eq!(final_counts(out), "1 leaked");
}

#[test]
fn what_only_the_last_run_keeps_is_not_what_grows() {
    // Before the census counted from the pass's second run on, the sixty
    // parts the last run left in a global read "+10 Part" a run and were
    // named the cause, ahead of the one leaf a run that leaks.
    let run = leakhunt(&["last_run_kept"]);
    assert_lines(
        &run.stdout,
        &[
            "cause: test_last_run_kept.Leaf: module test_last_run_kept -> KEPT (list) -> […] -> test_last_run_kept.Leaf",
            "what grows, per run (6 diagnosis runs):",
            "        +1        +40 B  test_last_run_kept.Leaf",
            "where it was allocated, per run:",
        ],
    );
    assert!(!run.stdout.contains("Part"), "{}", run.stdout);
    assert_eq!(final_counts(&run.stdout), "1 leaked");
}

#[test]
fn a_pass_cut_short_counts_what_grows_over_the_runs_it_had() {
    // Two or three traced runs, and a list grown in place beside a new
    // string a run: the count was divided by the runs less two (+3 str a
    // run over 3 runs) when a grown container was found.
    let run = leakhunt(&["slow_in_place"]);
    let out = &run.stdout;
    assert!(
        out.contains("diagnosis incomplete: the diagnosis stopped after "),
        "{out}"
    );
    let row = out
        .lines()
        .find(|line| line.ends_with("  str  (not gc-tracked)"))
        .unwrap_or_default();
    assert!(row.starts_with("        +1       +100 B  str"), "{out}");
    assert_eq!(final_counts(out), "1 leaked");
}

#[test]
fn a_context_variable_set_every_run_is_held_by_the_threads_context() {
    // The thread's state holds its context, where the gc sees no referrer:
    // "no module, class or thread was found holding what grows" before,
    // and the context's HAMT nodes read as a type that grows.
    let run = leakhunt(&["context_var"]);
    let held_by = "the context of thread 'MainThread' (contextvars)";
    assert_lines(
        &run.stdout,
        &[
            &format!("cause: _contextvars.ContextVar: {held_by} -> (key) -> _contextvars.ContextVar"),
            "what grows, per run (6 diagnosis runs):",
            "        +1        +80 B  _contextvars.ContextVar  (not gc-tracked)",
            "        +1        +56 B  test_context_var.Scope",
            &format!("  test_context_var.Scope: {held_by} -> [ContextVar 'scope'] -> test_context_var.Scope"),
        ],
    );
    assert!(!run.stdout.contains("hamt"), "{}", run.stdout);
    assert_eq!(final_counts(&run.stdout), "1 leaked");
}

#[test]
fn a_descriptor_owned_by_a_socket_a_library_thread_made_is_named_with_its_holder() {
    // The server's thread accepts the connection in the standard library,
    // so its socket has no frame of the test's: it read "a descriptor no
    // object owns" and "no file or socket object owns it", and nothing said
    // what kept it open.
    let chain = "module test_server_thread -> KEPT (list)";
    assert_diagnosed(
        "server_thread",
        &[
            &format!("cause: socket.socket: {chain} -> […] -> socket.socket"),
            "what keeps it alive:",
            "leaked file descriptors, per run:",
            "        +1  socket:[…]  socket.socket",
        ],
    );
    let run = leakhunt(&["server_thread"]);
    let held = run
        .stdout
        .lines()
        .find(|line| line.starts_with("  socket.socket: "))
        .unwrap_or_default();
    assert!(
        held.starts_with(&format!("  socket.socket: {chain} -> [")),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("no object owns"), "{}", run.stdout);
}

#[test]
fn an_object_only_its_own_parts_refer_to_is_held_by_c_code() {
    // The class's tuple of bases and its descriptors refer to it, and
    // nothing the gc sees refers to them: "no module, class or thread was
    // found holding what grows", before, as for numpy 2.5's user dtypes.
    assert_diagnosed(
        "held_in_c",
        &[
            "cause: type: only 4 objects refer to it, and nothing the gc sees refers to them: \
             a reference was taken and never released (C code, e.g. a missing Py_DECREF)",
            "        +1     +1.6 KiB  type",
        ],
    );
}

#[test]
fn a_diagnosis_that_finds_nothing_of_the_tests_says_why() {
    // What grows is made in a pool's thread by the standard library: the
    // LEAKED section ended at its series, with no word of why.
    let run = leakhunt(&["library_made"]);
    assert_lines(
        &run.stdout,
        &[
            "diagnosis incomplete: nothing the test's own lines made grew in the diagnosis's 6 \
           runs: a library or a thread it runs made what grows, or it did not grow again there; \
           no type, line or holder is shown",
        ],
    );
    assert_eq!(final_counts(&run.stdout), "1 leaked");
}

#[test]
fn fork_callbacks_are_named_and_a_callback_taken_back_is_not_atexit_s() {
    // opentelemetry's TracerProvider registers a fork callback it never can
    // take back, and an atexit callback it takes back at shutdown: the
    // first read "a missing Py_DECREF", and atexit's count, which keeps
    // what was taken back, made a function C code kept an atexit callback.
    let run = leakhunt(&["process_registries"]);
    assert_eq!(final_counts(&run.stdout), "2 leaked", "{}", run.stdout);
    assert_lines(
        &run.stdout,
        &[
            "cause: function: fork callbacks (os.register_at_fork) -> […] (function) -> \
             .__closure__ (tuple) -> […] (cell) -> .cell_contents (weakref.WeakMethod) -> \
             ._func_ref (weakref.ReferenceType) -> .__callback__ -> function",
            "cause: function: nothing refers to it: a reference was taken and never released \
             (C code, e.g. a missing Py_DECREF)",
        ],
    );
    assert!(!run.stdout.contains("atexit callbacks"), "{}", run.stdout);
}

#[test]
fn an_address_a_later_run_took_again_does_not_stand_for_what_grows() {
    // Ten functions replaced every run, one kept: one of the replaced, at
    // an address the second run's objects had, stood for the functions
    // that grow, and the cause named what does not grow (blockbuster's
    // wrappers in starlette's suite).
    assert_diagnosed(
        "reused_address",
        &["cause: function: module test_reused_address -> KEPT (list) -> […] -> function"],
    );
}

#[test]
fn a_chain_is_labelled_only_once_the_search_is_over() {
    // Flask's app context pushed and never popped: labelling another
    // type's chain read an object's attributes, which made its __dict__,
    // and the token's search, still going up through it, lost its way:
    // "only 13 objects refer to it … C code".
    let run = leakhunt(&["context_tokens"]);
    assert_eq!(final_counts(&run.stdout), "1 leaked", "{}", run.stdout);
    let held = "the context of thread 'MainThread' (contextvars) -> [ContextVar 'app_ctx'] \
                (test_context_tokens.AppContext) -> .tokens (list) -> [0] (_contextvars.Token)";
    assert_starts(&run.stdout, &[&format!("  _contextvars.Token: {held}")]);
    assert!(!run.stdout.contains("refer to it"), "{}", run.stdout);
}

/// A class's cache of strings made at import is a dict the gc does not
/// track: what it gains each run read "no container refers to what these
/// lines allocated … a missing Py_DECREF" (tornado's
/// StaticFileHandler._static_hashes).
#[test]
fn strings_a_class_level_cache_keeps_are_held_by_that_cache() {
    assert_diagnosed(
        "untracked_class_cache",
        &[
            "cause: str: module test_class_cache -> StaticHandler._hashes (dict) -> […] -> str",
            // The path (a key) and its hash: the gc visits no key of a dict
            // of strings, and the path was not counted.
            "        +2       +153 B  str  (not gc-tracked)",
        ],
    );
    let run = leakhunt(&["untracked_class_cache"]);
    assert!(!run.stdout.contains("Py_DECREF"), "{}", run.stdout);
}

/// An event loop's epoll is not gc-tracked, and was not looked for among
/// what owns a descriptor: "no file or socket object owns it".
#[test]
fn a_selector_s_epoll_owns_its_descriptor() {
    assert_diagnosed(
        "selector_fd",
        &[
            "cause: test_selector_fd.Loop: module test_selector_fd -> _loops (list) -> […] -> test_selector_fd.Loop",
            "leaked file descriptors, per run:",
            "        +1  anon_inode:[eventpoll]  select.epoll created at selector_fd/test_selector_fd.py:12",
        ],
    );
}

/// multiprocessing's Connection keeps its descriptor by number (a socket
/// detached, for a duplex Pipe): "no file or socket object owns it (os.open,
/// os.pipe, os.dup or C code)".
#[test]
fn a_multiprocessing_connection_owns_its_descriptor() {
    assert_diagnosed(
        "connection_fd",
        &[
            "cause: multiprocessing.connection.Connection: module test_connection_fd -> KEPT \
             (list) -> […] (tuple) -> […] -> multiprocessing.connection.Connection",
            "        +2       +112 B  multiprocessing.connection.Connection",
            "  multiprocessing.connection.Connection: module test_connection_fd -> KEPT (list) \
             -> [23] (tuple) -> [0] -> multiprocessing.connection.Connection",
            "leaked file descriptors, per run:",
            "        +2  socket:[…]  multiprocessing.connection.Connection created at \
             connection_fd/test_connection_fd.py:11",
        ],
    );
}

/// A class's registry that every instance also refers to has hundreds of
/// referrers of one type once a suite has run a while: the search up took
/// those first, its budget ran out before the class's own dict, and both
/// leaks read "no module, class or thread was found" (tornado's
/// AsyncHTTPClient, 18 of its 36 leaks).
#[test]
fn a_registry_every_instance_refers_to_is_still_found_from_its_class() {
    let run = leakhunt(&["shared_registry"]);
    let chain = "module test_shared_registry -> Client._instances (weakref.WeakKeyDictionary) -> .data (dict)";
    assert_lines(
        &run.stdout,
        &[
            &format!("cause: test_shared_registry.Client: {chain} -> […] -> test_shared_registry.Client"),
            &format!("same cause as shared_registry/test_shared_registry.py::test_leaves_a_client_for_its_new_loop (diagnosed there): test_shared_registry.Client: {chain} -> […] -> test_shared_registry.Client"),
        ],
    );
    assert!(
        !run.stdout.contains("diagnosis incomplete"),
        "{}",
        run.stdout
    );
    assert_eq!(final_counts(&run.stdout), "2 leaked");
}

/// A module made every run and put in sys.modules (pydantic's
/// create_module fixture) is held by sys.modules, not by the suite: its
/// chain read "module generated_23 -> Model -> type".
#[test]
fn a_module_the_runs_made_is_named_as_held_by_sys_modules() {
    let run = leakhunt(&["module_per_run"]);
    assert_lines(
        &run.stdout,
        &["cause: type: sys.modules[…] (a module the runs made) -> Model -> type"],
    );
    assert_starts(
        &run.stdout,
        &[
            "  type: sys.modules['generated_",
            "  dict: sys.modules['generated_",
        ],
    );
    assert_eq!(final_counts(&run.stdout), "1 leaked");
}

/// A 50 KB page kept each run beside two short titles kept elsewhere: the
/// chain is the page's, where the bytes are. The first string found stood
/// for them all, and the chain went to a title (pydantic's test_help: its
/// module's 60 KB help text, and a chain to a file name's parts).
#[test]
fn a_large_string_among_small_ones_stands_for_them() {
    assert_diagnosed(
        "big_string",
        &[
            "cause: str: module test_big_string -> PAGES (dict) -> […] -> str",
            // Two titles, the page and its key.
            "        +4    +47.1 KiB  str  (not gc-tracked)",
        ],
    );
}
