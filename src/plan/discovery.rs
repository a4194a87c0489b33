//! Finding test files and the rootdir from the command-line paths, the way
//! pytest does.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// One positional argument: a path, optionally narrowed to `::Class::test`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Canonical absolute path.
    pub path: PathBuf,
    /// What followed the first `::`, if anything (`TestC::test_x`).
    pub selector: Option<String>,
    /// As the user wrote it, for messages.
    pub given: String,
}

/// Parses positional arguments; a path that does not exist is a usage error.
pub fn parse_targets(args: &[String]) -> Result<Vec<Target>> {
    let args: Vec<String> = if args.is_empty() {
        vec![".".to_string()]
    } else {
        args.to_vec()
    };
    args.iter()
        .map(|given| {
            let (path, selector) = match given.split_once("::") {
                Some((path, rest)) => (path, Some(rest.to_string())),
                None => (given.as_str(), None),
            };
            let path = match std::fs::canonicalize(path) {
                Ok(path) => path,
                Err(_) => bail!("file or directory not found: {path}"),
            };
            if selector.is_some() && !path.is_file() {
                bail!("not found: {given} (a node id names a file, then ::)");
            }
            Ok(Target {
                path,
                selector,
                given: given.clone(),
            })
        })
        .collect()
}

/// pytest's rootdir: the folder of the first config file found upwards from the
/// arguments' common ancestor, else of a setup.py, else the ancestor itself.
pub fn find_rootdir(targets: &[Target]) -> PathBuf {
    let dirs: Vec<PathBuf> = targets
        .iter()
        .map(|t| {
            if t.path.is_dir() {
                t.path.clone()
            } else {
                t.path.parent().map(Path::to_path_buf).unwrap_or_default()
            }
        })
        .collect();
    let ancestor = common_ancestor(&dirs);
    let upwards = || ancestor.ancestors().map(Path::to_path_buf);
    upwards()
        .find(|dir| has_pytest_config(dir))
        .or_else(|| upwards().find(|dir| dir.join("setup.py").is_file()))
        .or_else(|| upwards().find(|dir| dir.join("pyproject.toml").is_file()))
        .unwrap_or(ancestor)
}

/// Where to look for configuration, as pytest looks for its ini file: the
/// common folder of the paths given (those that exist), else `cwd`.
pub fn config_start(paths: &[String], cwd: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = paths
        .iter()
        .filter_map(|p| std::fs::canonicalize(p.split("::").next().unwrap_or(p)).ok())
        .map(|p| {
            if p.is_dir() {
                p
            } else {
                p.parent().map(Path::to_path_buf).unwrap_or(p)
            }
        })
        .collect();
    if dirs.is_empty() {
        cwd.to_path_buf()
    } else {
        common_ancestor(&dirs)
    }
}

fn common_ancestor(dirs: &[PathBuf]) -> PathBuf {
    let mut common = dirs.first().cloned().unwrap_or_default();
    for dir in &dirs[1..] {
        while !dir.starts_with(&common) {
            if !common.pop() {
                break;
            }
        }
    }
    common
}

fn has_pytest_config(dir: &Path) -> bool {
    let section = |file: &str, marker: &str| {
        std::fs::read_to_string(dir.join(file))
            .map(|text| text.lines().any(|l| l.trim().starts_with(marker)))
            .unwrap_or(false)
    };
    dir.join("pytest.ini").is_file()
        || dir.join(".pytest.ini").is_file()
        || section("pyproject.toml", "[tool.pytest")
        || section("tox.ini", "[pytest]")
        || section("setup.cfg", "[tool:pytest]")
}

/// Folders pytest does not recurse into (its default `norecursedirs`), plus
/// virtualenvs and caches.
fn skip_dir(dir: &Path) -> bool {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    name.starts_with('.')
        || name.ends_with(".egg")
        || matches!(
            name.as_str(),
            "__pycache__"
                | "node_modules"
                | "build"
                | "dist"
                | "venv"
                | "CVS"
                | "_darcs"
                | "{arch}"
        )
        || dir.join("pyvenv.cfg").is_file()
}

pub fn is_test_file_name(name: &str) -> bool {
    name.ends_with(".py") && (name.starts_with("test_") || name.ends_with("_test.py"))
}

/// Test files under the targets, each once, in pytest's order (sorted by name
/// within each folder, folders and files interleaved).
pub fn find_test_files(targets: &[Target]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for target in targets {
        if target.path.is_file() {
            // A file named on the command line is collected whatever its name.
            files.push(target.path.clone());
        } else {
            walk(&target.path, &mut files)
                .with_context(|| format!("cannot read folder {}", target.path.display()))?;
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.clone()));
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            if !skip_dir(&entry) {
                walk(&entry, files)?;
            }
        } else if entry
            .file_name()
            .is_some_and(|n| is_test_file_name(&n.to_string_lossy()))
        {
            files.push(entry);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_file_names_follow_pytest_defaults() {
        assert!(is_test_file_name("test_x.py"));
        assert!(is_test_file_name("x_test.py"));
        assert!(!is_test_file_name("testx.py"));
        assert!(!is_test_file_name("test_x.pyc"));
        assert!(!is_test_file_name("conftest.py"));
    }

    #[test]
    fn walk_skips_hidden_virtualenv_and_build_folders() {
        let root = tempfile::tempdir().unwrap();
        let p = root.path();
        for dir in [
            "a",
            "b/.hidden",
            "venv",
            "env",
            "build",
            "node_modules",
            "__pycache__",
        ] {
            std::fs::create_dir_all(p.join(dir)).unwrap();
        }
        std::fs::write(p.join("env/pyvenv.cfg"), "").unwrap();
        for file in [
            "test_z.py",
            "a/test_a.py",
            "a/helper.py",
            "b/.hidden/test_h.py",
            "venv/test_v.py",
            "env/test_e.py",
            "build/test_b.py",
            "node_modules/test_n.py",
            "__pycache__/test_c.py",
            "b/unit_test.py",
        ] {
            std::fs::write(p.join(file), "").unwrap();
        }
        let targets = parse_targets(&[p.to_string_lossy().to_string()]).unwrap();
        let files = find_test_files(&targets).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|f| {
                f.strip_prefix(&targets[0].path)
                    .unwrap()
                    .to_string_lossy()
                    .to_string()
            })
            .collect();
        assert_eq!(names, vec!["a/test_a.py", "b/unit_test.py", "test_z.py"]);
    }

    #[test]
    fn rootdir_is_the_folder_of_the_nearest_pytest_config() {
        let root = tempfile::tempdir().unwrap();
        let p = root.path();
        std::fs::create_dir_all(p.join("proj/tests/sub")).unwrap();
        std::fs::write(p.join("proj/pyproject.toml"), "[tool.pytest.ini_options]\n").unwrap();
        let targets =
            parse_targets(&[p.join("proj/tests/sub").to_string_lossy().to_string()]).unwrap();
        assert_eq!(
            find_rootdir(&targets),
            p.join("proj").canonicalize().unwrap()
        );
    }

    #[test]
    fn missing_path_is_an_error_naming_it() {
        let err = parse_targets(&["no/such/dir".to_string()]).unwrap_err();
        assert_eq!(err.to_string(), "file or directory not found: no/such/dir");
    }
}
