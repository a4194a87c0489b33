//! The layers of README "Layout", checked on the source: which layer may use
//! which, that only the worker touches pyo3, and that no two modules use
//! each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each layer and the layers it may use (besides itself).
const ALLOWED: &[(&str, &[&str])] = &[
    (
        "entry",
        &["model", "settings", "session", "report", "worker"],
    ),
    ("session", &["model", "plan", "report", "settings"]),
    ("report", &["model", "plan", "settings"]),
    ("settings", &["model", "plan"]),
    ("plan", &["model"]),
    ("worker", &["model"]),
    ("model", &[]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/report/junit.rs` -> `report::junit`; `src/worker/mod.rs` -> `worker`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .filter(|p| p != "mod")
        .collect();
    parts.join("::")
}

/// The code of a file without comments and without its unit tests (which
/// may build values of any layer).
fn code_of(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => &text[..],
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Modules each module uses: the longest known module a `crate::` path names.
fn uses(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(src, f)).collect();
    let path = regex::Regex::new(r"crate::([a-z_]+(?:::[a-z_]+)*)").unwrap();
    let mut graph = BTreeMap::new();
    for file in &files {
        let me = module_of(src, file);
        let mut used = BTreeSet::new();
        for found in path.captures_iter(&code_of(file)) {
            let parts: Vec<&str> = found[1].split("::").collect();
            let target = (1..=parts.len())
                .rev()
                .map(|k| parts[..k].join("::"))
                .find(|m| modules.contains(m));
            if let Some(target) = target {
                let nested = target.starts_with(&format!("{me}::"))
                    || me.starts_with(&format!("{target}::"));
                if target != me && !nested {
                    used.insert(target);
                }
            }
        }
        graph.insert(me, used);
    }
    graph
}

fn layer(module: &str) -> &str {
    module.split("::").next().unwrap()
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn each_layer_uses_only_the_layers_below_it() {
    let mut wrong = Vec::new();
    for (module, used) in uses(&src()) {
        let from = layer(&module);
        if matches!(from, "lib" | "main") {
            continue;
        }
        let allowed = ALLOWED
            .iter()
            .find(|(name, _)| *name == from)
            .unwrap_or_else(|| panic!("{module}: layer {from} is not in ALLOWED"))
            .1;
        for target in used {
            let to = layer(&target);
            if to != from && !allowed.contains(&to) {
                wrong.push(format!("{module} uses {target}"));
            }
        }
    }
    assert_eq!(wrong, Vec::<String>::new());
}

#[test]
fn no_two_modules_use_each_other() {
    let graph = uses(&src());
    let mut cycles = Vec::new();
    for (module, used) in &graph {
        for target in used {
            if module < target && graph.get(target).is_some_and(|u| u.contains(module)) {
                cycles.push(format!("{module} <-> {target}"));
            }
        }
    }
    assert_eq!(cycles, Vec::<String>::new());
}

#[test]
fn only_the_worker_calls_into_python() {
    let src = src();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let outside: Vec<String> = files
        .iter()
        .filter(|f| layer(&module_of(&src, f)) != "worker")
        .filter(|f| {
            code_of(f)
                .lines()
                .any(|l| l.contains("pyo3::") || l.contains("Python<"))
        })
        .map(|f| module_of(&src, f))
        .collect();
    assert_eq!(outside, Vec::<String>::new());
}
