//! The CI gate on an old suite: configuration, allow-lists, the baseline.

mod common;

use std::path::Path;

use common::{final_counts, fixtures, leakhunt_in, verdicts};

const KNOWN_LEAK: &str = "KEPT = []\n\n\ndef test_known_leak():\n    KEPT.append([1, 2, 3])\n\n\ndef test_clean():\n    assert [1, 2, 3]\n";
const NEW_LEAK: &str =
    "import os\n\n\ndef test_new_fd_leak():\n    os.open(os.devnull, os.O_RDONLY)\n";

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn configuration_comes_from_pyproject_and_the_command_line_wins() {
    let dir = project(&[
        ("test_app.py", KNOWN_LEAK),
        (
            "pyproject.toml",
            "[project]\nname = \"app\"\n\n[tool.leakhunt]\nwarmup = 2\niterations = 12\nignore = [\"build_helpers\"]\nthresholds = { rss = 131072 }\n",
        ),
    ]);
    std::fs::create_dir(dir.path().join("build_helpers")).unwrap();
    let run = leakhunt_in(dir.path(), &["--show-config", "--iterations", "15"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "# configuration file: {}",
            dir.path().join("pyproject.toml").display()
        )
    );
    assert!(lines.contains(&"warmup = 2                               # pyproject.toml:5"));
    assert!(lines.contains(&"iterations = 15                          # command line"));
    assert!(lines.contains(&"max-iterations = 60                      # default"));
    assert!(lines.contains(&"engine = auto                            # default"));
    assert!(lines.contains(&"strict-resources = false                 # default"));
    assert!(lines.contains(&"keep-coverage = false                    # default"));
    assert!(lines.contains(&"thresholds = [\"rss=131072\"]              # pyproject.toml:8"));
    let run = leakhunt_in(dir.path(), &["-v"]);
    assert!(run
        .stdout
        .contains("engine: builtin, warm-up 2, iterations 12 (3 when nothing moves, up to 60)"));
}

#[test]
fn unknown_keys_and_wrong_types_name_the_key_file_and_line() {
    let dir = project(&[
        ("test_app.py", KNOWN_LEAK),
        ("leakhunt.toml", "warmup = 2\nwarmpu = 3\n"),
    ]);
    let run = leakhunt_in(dir.path(), &[]);
    assert_eq!(run.code, 4);
    let file = dir.path().join("leakhunt.toml");
    assert!(
        run.stderr.starts_with(&format!(
            "ERROR: {}:2: unknown key `warmpu`, expected one of",
            file.display()
        )),
        "{}",
        run.stderr
    );
    write(
        dir.path(),
        "leakhunt.toml",
        "workers = 2\ntimeout = \"soon\"\n",
    );
    let run = leakhunt_in(dir.path(), &[]);
    assert_eq!(run.code, 4);
    assert_eq!(
        run.stderr,
        format!(
            "ERROR: {}:2: timeout: invalid type: string \"soon\", expected a number\n",
            file.display()
        )
    );
}

#[test]
fn allow_list_entries_turn_accepted_leaks_into_allowed() {
    let dir = project(&[
        ("test_app.py", KNOWN_LEAK),
        (
            "leakhunt.toml",
            "allow = [{ test = \"test_app.py::test_known_*\", signals = [\"objects\", \"blocks\", \"bytes\"], reason = \"kept on purpose\" }]\n",
        ),
    ]);
    let run = leakhunt_in(dir.path(), &["-v"]);
    assert_eq!(
        verdicts(&run.stdout),
        [
            "test_app.py::test_known_leak ALLOWED",
            "test_app.py::test_clean PASSED"
        ]
    );
    assert!(run
        .stdout
        .contains("ALLOWED test_app.py::test_known_leak - +1 objects/run, +2 blocks/run, "));
    assert!(run.stdout.contains("(kept on purpose)\n"), "{}", run.stdout);
    assert_eq!(final_counts(&run.stdout), "1 passed, 1 allowed");
    assert_eq!(run.code, 0);
}

#[test]
fn baseline_in_three_steps_fails_only_on_new_leaks() {
    let dir = project(&[("test_app.py", KNOWN_LEAK)]);
    let path = dir.path();
    // 1. Record the leaks the suite has today.
    let run = leakhunt_in(path, &["--write-baseline", "leakhunt-baseline.json", "-q"]);
    assert_eq!(
        run.code, 1,
        "the known leak still fails without the baseline"
    );
    let written = std::fs::read_to_string(path.join("leakhunt-baseline.json")).unwrap();
    let signals: Vec<&str> = written
        .lines()
        .filter_map(|l| l.trim().strip_prefix("\"signal\": "))
        .collect();
    assert_eq!(signals, ["\"objects\",", "\"blocks\",", "\"bytes\","]);
    assert!(written.starts_with("{\n  \"schema\": \"leakhunt-baseline/1\",\n  \"leaks\": [\n    {\n      \"test\": \"test_app.py::test_known_leak\","));
    // 2. With the baseline, the known leak passes the gate.
    let run = leakhunt_in(path, &["--baseline", "leakhunt-baseline.json", "-v"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run
        .stdout
        .contains("(known leak, in leakhunt-baseline.json)"));
    // 3. A new leak fails; the known one still passes.
    write(path, "test_new.py", NEW_LEAK);
    let run = leakhunt_in(path, &["--baseline", "leakhunt-baseline.json", "-v"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        verdicts(&run.stdout),
        [
            "test_app.py::test_known_leak ALLOWED",
            "test_app.py::test_clean PASSED",
            "test_new.py::test_new_fd_leak LEAKED",
        ]
    );
    // Fixing the known leak is reported, with the hint to re-write.
    std::fs::remove_file(path.join("test_new.py")).unwrap();
    write(path, "test_app.py", "def test_known_leak():\n    pass\n");
    let run = leakhunt_in(path, &["--baseline", "leakhunt-baseline.json"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains(
        "FIXED test_app.py::test_known_leak - no longer leaks objects: re-write the baseline with --write-baseline leakhunt-baseline.json\n"
    ), "{}", run.stdout);
}

#[test]
fn shard_baselines_merge_into_the_whole_suites_baseline() {
    let leaky = fixtures().join("leaky");
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name).to_string_lossy().to_string();
    let leaky_arg = leaky.to_string_lossy().to_string();
    for file in [
        "test_objects.py",
        "test_resources.py",
        "test_intermittent.py",
    ] {
        let _ = std::fs::copy(leaky.join(file), dir.path().join(file));
    }
    let _ = leaky_arg;
    let whole = leakhunt_in(dir.path(), &["--write-baseline", &out("whole.json"), "-q"]);
    assert_eq!(whole.code, 1);
    for k in 1..=2 {
        let shard = format!("{k}/2");
        let part = out(&format!("part{k}.json"));
        leakhunt_in(
            dir.path(),
            &["--shard", &shard, "--write-baseline", &part, "-q"],
        );
    }
    let run = leakhunt_in(
        dir.path(),
        &[
            "--merge-baselines",
            &out("part1.json"),
            &out("part2.json"),
            "--write-baseline",
            &out("merged.json"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let read = |name: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let tests = |value: &serde_json::Value| -> Vec<(String, String)> {
        value["leaks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["test"].to_string(), e["signal"].to_string()))
            .collect()
    };
    assert_eq!(tests(&read("merged.json")), tests(&read("whole.json")));
}

#[test]
fn github_actions_get_annotations_on_the_line_that_leaked() {
    let repo = fixtures().join("..");
    let repo = repo.canonicalize().unwrap();
    let run = common::leakhunt_with(
        &fixtures(),
        &["leaky/test_resources.py::test_fd_leaked_by_os_open", "-q"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_WORKSPACE", repo.to_str().unwrap()),
        ],
    );
    assert!(
        run.stdout.contains(
            // The os.open() line (the diagnosis's audit hook saw it), not the def.
            "\n::error file=fixtures/leaky/test_resources.py,line=14,title=leaky/test_resources.py%3A%3Atest_fd_leaked_by_os_open leaked::+1 fds/run\n"
        ),
        "{}",
        run.stdout
    );
    let quiet = leakhunt_in(
        &fixtures(),
        &["leaky/test_resources.py::test_fd_leaked_by_os_open", "-q"],
    );
    assert!(!quiet.stdout.contains("::error"));
}

fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t.invalid"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
        .status;
    assert!(status.success(), "git {args:?}");
}

#[test]
fn changed_selects_the_test_files_changed_since_the_reference() {
    let dir = project(&[
        ("test_old.py", "def test_old():\n    pass\n"),
        ("test_edited.py", "def test_edited():\n    pass\n"),
    ]);
    let path = dir.path();
    let run = leakhunt_in(path, &["--changed"]);
    assert_eq!(run.code, 4);
    assert_eq!(
        run.stderr,
        format!(
            "ERROR: --changed needs a git repository: {} is not inside one\n",
            path.canonicalize().unwrap().display()
        )
    );
    git(path, &["init", "-q"]);
    git(path, &["add", "."]);
    git(path, &["commit", "-q", "-m", "tests"]);
    let run = leakhunt_in(path, &["--changed"]);
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stdout,
        "no test files changed since HEAD: nothing to check\n"
    );
    write(
        path,
        "test_edited.py",
        "def test_edited():\n    assert True\n",
    );
    write(path, "test_added.py", "def test_added():\n    pass\n");
    let run = leakhunt_in(path, &["--changed", "-v"]);
    assert_eq!(
        verdicts(&run.stdout),
        [
            "test_added.py::test_added PASSED",
            "test_edited.py::test_edited PASSED"
        ]
    );
    let run = leakhunt_in(path, &["--changed=HEAD~5"]);
    assert_eq!(run.code, 4);
    assert_eq!(
        run.stderr,
        "ERROR: --changed HEAD~5: git does not know that revision\n"
    );
}

#[test]
fn progress_line_only_on_a_terminal() {
    let piped = leakhunt_in(&fixtures(), &["slow/test_slow.py::test_slow"]);
    assert!(!piped.stdout.contains('\r'), "{:?}", piped.stdout);
    // `script` gives leakhunt a pseudo-terminal, as a developer's shell would.
    let binary = env!("CARGO_BIN_EXE_leakhunt");
    let output = std::process::Command::new("script")
        .args(["-qec"])
        .arg(format!("{binary} slow/test_slow.py::test_slow --color no"))
        .arg("/dev/null")
        .current_dir(fixtures())
        .output()
        .expect("script (util-linux) runs");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(
        shown.contains("\r\u{1b}[K  0/1 tests · 0 leaked · "),
        "{shown:?}"
    );
    assert!(shown.contains("test_slow.py::test_slow run "), "{shown:?}");
}
