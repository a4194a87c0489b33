//! The CI templates users copy (`ci/`, `.pre-commit-hooks.yaml`): each is
//! parsed, its structure checked, and every leakhunt option it uses must be
//! one the binary knows, so a renamed option cannot leave a template behind.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

/// What `LEAKHUNT_GIT_URL` holds until the user sets it.
const SOURCE_PLACEHOLDER: &str = "https://github.com/OWNER/leakhunt";

fn path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn text(relative: &str) -> String {
    std::fs::read_to_string(path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The one YAML document in a template.
fn load(relative: &str) -> Yaml {
    let mut documents =
        YamlLoader::load_from_str(&text(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"));
    assert_eq!(documents.len(), 1, "{relative}: one document");
    documents.remove(0)
}

fn string<'a>(node: &'a Yaml, what: &str) -> &'a str {
    node.as_str()
        .unwrap_or_else(|| panic!("{what} is a string, not {node:?}"))
}

fn list<'a>(node: &'a Yaml, what: &str) -> &'a [Yaml] {
    node.as_vec()
        .unwrap_or_else(|| panic!("{what} is a list, not {node:?}"))
}

/// Every string scalar below `node`, keys excepted.
fn strings(node: &Yaml) -> Vec<&str> {
    match node {
        Yaml::String(s) => vec![s],
        Yaml::Array(items) => items.iter().flat_map(strings).collect(),
        Yaml::Hash(map) => map.values().flat_map(strings).collect(),
        _ => vec![],
    }
}

/// The lines of `node`'s strings that run leakhunt (in `run:`, `script:`,
/// `entry:`, wherever they are), in order.
fn leakhunt_lines(node: &Yaml) -> Vec<String> {
    strings(node)
        .into_iter()
        .flat_map(str::lines)
        .map(str::trim)
        .filter(|line| line.starts_with("leakhunt "))
        .map(String::from)
        .collect()
}

/// The value given to `flag` on a command line split at whitespace.
fn option<'a>(words: &[&'a str], flag: &str) -> &'a str {
    let at = words
        .iter()
        .position(|w| *w == flag)
        .unwrap_or_else(|| panic!("{flag} missing from {words:?}"));
    words
        .get(at + 1)
        .unwrap_or_else(|| panic!("{flag} has no value in {words:?}"))
}

/// The step of `steps` whose `uses:` starts with `action`, and its position.
fn step_using<'a>(steps: &'a [Yaml], action: &str) -> (usize, &'a Yaml) {
    let mut found = steps.iter().enumerate().filter(|(_, step)| {
        step["uses"]
            .as_str()
            .is_some_and(|uses| uses.starts_with(action))
    });
    let first = found
        .next()
        .unwrap_or_else(|| panic!("no step uses {action}"));
    assert!(found.next().is_none(), "one step uses {action}");
    first
}

/// The step of `steps` whose `run:` contains `needle`, and its position.
fn step_running<'a>(steps: &'a [Yaml], needle: &str) -> (usize, &'a Yaml) {
    let mut found = steps
        .iter()
        .enumerate()
        .filter(|(_, step)| step["run"].as_str().is_some_and(|run| run.contains(needle)));
    let first = found
        .next()
        .unwrap_or_else(|| panic!("no step runs {needle:?}"));
    assert!(found.next().is_none(), "one step runs {needle:?}");
    first
}

#[test]
fn github_workflow_builds_the_wheel_shards_uploads_and_publishes_the_junit_report() {
    let workflow = load("ci/github-actions.yml");
    assert_eq!(
        string(&workflow["env"]["LEAKHUNT_GIT_URL"], "env.LEAKHUNT_GIT_URL"),
        SOURCE_PLACEHOLDER
    );
    let job = &workflow["jobs"]["leakhunt"];
    assert_eq!(job["strategy"]["fail-fast"].as_bool(), Some(false));
    let shards: Vec<i64> = list(&job["strategy"]["matrix"]["shard"], "matrix.shard")
        .iter()
        .map(|value| value.as_i64().expect("shards are integers"))
        .collect();
    assert_eq!(shards, [1, 2, 3, 4]);
    let steps = list(&job["steps"], "steps");

    let (checkout, _) = step_using(steps, "actions/checkout@");
    assert_eq!(checkout, 0);
    let (setup, python) = step_using(steps, "actions/setup-python@");
    // Quoted: an unquoted 3.10 would be the number 3.1.
    assert_eq!(
        string(&python["with"]["python-version"], "python-version"),
        "3.11"
    );

    // The wheel job builds leakhunt once, from the URL, and shares it.
    let wheel_job = &workflow["jobs"]["wheel"];
    assert_eq!(job["needs"].as_str(), Some("wheel"));
    let wheel_steps = list(&wheel_job["steps"], "wheel steps");
    let (build, build_step) = step_running(wheel_steps, "pip wheel");
    let build_run = string(&build_step["run"], "the build step");
    assert!(
        build_run.contains(
            r#"python -m pip wheel --no-deps --wheel-dir leakhunt-wheel "git+$LEAKHUNT_GIT_URL""#
        ),
        "{build_run}"
    );
    assert!(
        build_run.contains(&format!(r#""$LEAKHUNT_GIT_URL" = "{SOURCE_PLACEHOLDER}""#)),
        "the build step stops on the placeholder: {build_run}"
    );
    let (shared, shared_step) = step_using(wheel_steps, "actions/upload-artifact@v4");
    assert!(shared > build);
    let wheel_name = string(&shared_step["with"]["name"], "the wheel artifact");
    assert_eq!(
        string(&shared_step["with"]["path"], "the wheel's path"),
        "leakhunt-wheel/leakhunt-*.whl"
    );

    // Each shard installs that wheel with pip, into the Python set up for
    // the tests, after their dependencies.
    let (fetched, fetch_step) = step_using(steps, "actions/download-artifact@v4");
    assert_eq!(
        string(&fetch_step["with"]["name"], "the downloaded artifact"),
        wheel_name
    );
    let folder = string(&fetch_step["with"]["path"], "the wheel's folder");
    let (deps, _) = step_running(steps, "requirements-dev.txt");
    let (install, install_step) = step_running(steps, &format!("{folder}/leakhunt-"));
    assert_eq!(
        string(&install_step["run"], "the install step"),
        format!("python -m pip install {folder}/leakhunt-*.whl")
    );
    assert!(install > setup && install > fetched && install > deps);
    assert!(!text("ci/github-actions.yml").contains("cargo install"));

    let commands = leakhunt_lines(job);
    assert_eq!(commands.len(), 1, "{commands:?}");
    let (hunt, _) = step_running(steps, &commands[0]);
    assert!(hunt > install);
    let (upload, upload_step) = step_using(steps, "actions/upload-artifact@v4");
    assert!(upload > hunt);
    // The report of a failed run is the one to read.
    assert_eq!(upload_step["if"].as_str(), Some("always()"));
    let artifact = string(&upload_step["with"]["name"], "the artifact's name");

    // Each matrix job, with its shard value in place of the expression: it
    // runs shard K of N = the matrix's length, and uploads what it wrote.
    for &shard in &shards {
        let render = |text: &str| text.replace("${{ matrix.shard }}", &shard.to_string());
        let command = render(&commands[0]);
        assert!(!command.contains("${{"), "{command}");
        let words: Vec<&str> = command.split_whitespace().collect();
        assert_eq!(words[1], "tests/");
        assert_eq!(
            option(&words, "--shard"),
            format!("{shard}/{}", shards.len())
        );
        assert_eq!(
            option(&words, "--junitxml"),
            render(string(&upload_step["with"]["path"], "the uploaded path"))
        );
    }

    // The publish job gathers every shard's artifact, whatever they found.
    let publish = &workflow["jobs"]["publish"];
    assert_eq!(publish["needs"].as_str(), Some("leakhunt"));
    assert_eq!(publish["if"].as_str(), Some("always()"));
    let steps = list(&publish["steps"], "publish steps");
    let (download, download_step) = step_using(steps, "actions/download-artifact@v4");
    let pattern = string(&download_step["with"]["pattern"], "the download pattern");
    let prefix = pattern.strip_suffix('*').expect("the pattern ends with *");
    // upload-artifact@v4 refuses two artifacts of one name in a run.
    assert_eq!(artifact, format!("{prefix}${{{{ matrix.shard }}}}"));
    let folder = string(&download_step["with"]["path"], "the download folder");
    let (published, publish_step) =
        step_using(steps, "EnricoMi/publish-unit-test-result-action@v2");
    assert!(published > download);
    assert_eq!(
        string(&publish_step["with"]["files"], "the published files"),
        format!("{folder}/**/*.xml")
    );
    assert_eq!(
        publish["permissions"]["checks"].as_str(),
        Some("write"),
        "publishing a check needs checks: write"
    );
}

#[test]
fn gitlab_jobs_build_the_wheel_then_run_shards_in_parallel_and_report_junit() {
    let pipeline = load("ci/gitlab-ci.yml");
    let job = &pipeline["leakhunt"];
    assert_eq!(job["image"].as_str(), Some("python:3.11"));
    assert_eq!(job["stage"].as_str(), Some("test"));
    assert_eq!(job["parallel"].as_i64(), Some(4));
    let before: Vec<&str> = list(&job["before_script"], "before_script")
        .iter()
        .map(|line| string(line, "a before_script line"))
        .collect();
    assert_eq!(
        before,
        [
            "python -m pip install -r requirements-dev.txt",
            "python -m pip install leakhunt-wheel/leakhunt-*.whl"
        ]
    );
    assert_eq!(
        job["needs"],
        Yaml::Array(vec![Yaml::String("leakhunt-wheel".into())])
    );

    // The wheel job builds it once, from the URL, for the shards.
    let wheel_job = &pipeline["leakhunt-wheel"];
    assert_eq!(wheel_job["stage"].as_str(), Some("build"));
    assert_eq!(
        string(
            &wheel_job["variables"]["LEAKHUNT_GIT_URL"],
            "LEAKHUNT_GIT_URL"
        ),
        SOURCE_PLACEHOLDER
    );
    let build: Vec<&str> = list(&wheel_job["script"], "the wheel job's script")
        .iter()
        .map(|line| string(line, "a script line"))
        .collect();
    assert!(
        build[0].contains(SOURCE_PLACEHOLDER),
        "the wheel job stops on the placeholder first: {build:?}"
    );
    assert_eq!(
        build.last().copied(),
        Some(r#"python -m pip wheel --no-deps --wheel-dir leakhunt-wheel "git+$LEAKHUNT_GIT_URL""#)
    );
    assert_eq!(
        wheel_job["artifacts"]["paths"],
        Yaml::Array(vec![Yaml::String("leakhunt-wheel/".into())])
    );

    let commands = leakhunt_lines(&job["script"]);
    assert_eq!(commands.len(), 1, "{commands:?}");
    assert_eq!(leakhunt_lines(job).len(), 1, "leakhunt runs in script only");
    let words: Vec<&str> = commands[0].split_whitespace().collect();
    assert_eq!(words[1], "tests/");
    // GitLab numbers the copies of a `parallel` job 1..=CI_NODE_TOTAL.
    assert_eq!(
        option(&words, "--shard"),
        "${CI_NODE_INDEX}/${CI_NODE_TOTAL}"
    );
    let artifacts = &job["artifacts"];
    assert_eq!(artifacts["when"].as_str(), Some("always"));
    assert_eq!(
        string(&artifacts["reports"]["junit"], "reports.junit"),
        option(&words, "--junitxml")
    );
}

#[test]
fn pre_commit_hook_runs_leakhunt_on_changed_tests() {
    let manifest = load(".pre-commit-hooks.yaml");
    let hooks = list(&manifest, "the hook list");
    assert_eq!(hooks.len(), 1);
    let hook = hooks[0].as_hash().expect("a hook is a mapping");
    let keys: Vec<&str> = hook.keys().map(|k| string(k, "a hook key")).collect();
    assert_eq!(
        keys,
        ["id", "name", "entry", "language", "pass_filenames", "types"]
    );
    let hook = &hooks[0];
    assert_eq!(hook["id"].as_str(), Some("leakhunt"));
    assert_eq!(
        hook["name"].as_str(),
        Some("leakhunt (leaks in changed tests)")
    );
    assert_eq!(hook["entry"].as_str(), Some("leakhunt --changed"));
    // pre-commit installs leakhunt itself (pip), into the hook's environment.
    assert_eq!(hook["language"].as_str(), Some("python"));
    // leakhunt picks the changed files itself.
    assert_eq!(hook["pass_filenames"].as_bool(), Some(false));
    assert_eq!(
        hook["types"],
        Yaml::Array(vec![Yaml::String("python".into())])
    );
}

const TEMPLATES: [&str; 3] = [
    "ci/github-actions.yml",
    "ci/gitlab-ci.yml",
    ".pre-commit-hooks.yaml",
];

/// The `--flags` a template gives leakhunt: on its leakhunt command lines,
/// and in its comments' code spans that are a leakhunt command or an option
/// to add to one (`` `--baseline FILE` ``), since users follow those too.
fn flags_used(relative: &str) -> BTreeSet<String> {
    let mut commands = leakhunt_lines(&load(relative));
    for line in text(relative).lines() {
        let Some(comment) = line.trim_start().strip_prefix('#') else {
            continue;
        };
        // Code spans are the odd-numbered pieces between backticks.
        commands.extend(
            comment
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|span| span.starts_with("leakhunt ") || span.starts_with("--"))
                .map(String::from),
        );
    }
    commands
        .iter()
        .flat_map(|command| command.split_whitespace())
        .filter(|word| word.starts_with("--"))
        .map(|word| word.split('=').next().unwrap_or(word).to_string())
        .collect()
}

#[test]
fn every_option_in_the_templates_exists() {
    let help = Command::new(env!("CARGO_BIN_EXE_leakhunt"))
        .arg("--help")
        .output()
        .expect("the leakhunt binary runs");
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    let known: BTreeSet<&str> = help
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|word| word.starts_with("--"))
        .collect();
    assert!(known.contains("--junitxml"), "{help}");

    let mut used = BTreeSet::new();
    for template in TEMPLATES {
        for flag in flags_used(template) {
            assert!(
                known.contains(flag.as_str()),
                "{template} uses {flag}, which `leakhunt --help` does not list"
            );
            used.insert(flag);
        }
    }
    // The extraction finds what the templates are known to use.
    for flag in ["--shard", "--junitxml", "--changed", "--baseline"] {
        assert!(used.contains(flag), "{flag} not found in {used:?}");
    }
}

#[test]
fn readme_lists_the_templates() {
    let readme = text("README.md");
    for template in TEMPLATES {
        assert!(
            readme.contains(template),
            "README.md does not name {template}"
        );
    }
}
