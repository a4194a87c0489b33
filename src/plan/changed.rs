//! `--changed [REF]`: only the test files changed since REF, for the check
//! before a commit.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, Result};

use crate::plan::discovery::is_test_file_name;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    output.status.success().then(|| {
        String::from_utf8_lossy(&output.stdout)
            .trim_end()
            .to_string()
    })
}

/// What `--changed` compares with: REF, else the merge-base with
/// `origin/main`, else `HEAD`.
pub fn base(dir: &Path, reference: Option<&str>) -> String {
    match reference {
        Some(reference) if !reference.is_empty() => reference.to_string(),
        _ => git(dir, &["merge-base", "HEAD", "origin/main"]).unwrap_or_else(|| "HEAD".to_string()),
    }
}

/// Test files changed since `base` (committed, staged, unstaged or untracked),
/// absolute and existing.
pub fn changed_test_files(dir: &Path, base: &str) -> Result<Vec<PathBuf>> {
    let top = git(dir, &["rev-parse", "--show-toplevel"]).ok_or_else(|| {
        anyhow!(
            "--changed needs a git repository: {} is not inside one",
            dir.display()
        )
    })?;
    let diff = git(dir, &["diff", "--name-only", base, "--"])
        .ok_or_else(|| anyhow!("--changed {base}: git does not know that revision"))?;
    let untracked = git(
        dir,
        &["ls-files", "--others", "--exclude-standard", "--full-name"],
    )
    .unwrap_or_default();
    let top = PathBuf::from(top);
    let mut files: Vec<PathBuf> = diff
        .lines()
        .chain(untracked.lines())
        .map(|name| top.join(name))
        .filter(|path| {
            path.is_file()
                && path
                    .file_name()
                    .is_some_and(|n| is_test_file_name(&n.to_string_lossy()))
        })
        .filter_map(|path| std::fs::canonicalize(path).ok())
        .collect();
    files.sort();
    files.dedup();
    Ok(files)
}
