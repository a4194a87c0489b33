//! Which Python the tests run in: the user's virtualenv when there is one.
//!
//! `--python PATH`, else `$VIRTUAL_ENV`, else `./.venv`, else the interpreter
//! leakhunt was built with. The embedded libpython is always the build's, so a
//! virtualenv of another minor version cannot work and is refused up front.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The Python leakhunt links against (`3.11`), recorded by build.rs.
pub const BUILD_VERSION: &str = env!("LEAKHUNT_BUILD_PYTHON_VERSION");

/// The executable of that Python, recorded by build.rs (may be empty).
const BUILD_EXECUTABLE: &str = env!("LEAKHUNT_BUILD_PYTHON");

/// The interpreter to initialise, and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonTarget {
    /// `sys.executable` to give CPython; its path decides `sys.prefix` (a
    /// `pyvenv.cfg` beside it or one folder up makes it a virtualenv). None:
    /// let CPython find its own prefix.
    pub executable: Option<PathBuf>,
    /// `--python`, `$VIRTUAL_ENV`, `./.venv` or `build`: named in messages.
    pub source: &'static str,
}

/// Chooses the interpreter from `--python`, the environment and the current folder.
pub fn resolve(python: Option<&Path>, cwd: &Path) -> Result<PythonTarget> {
    let virtual_env = std::env::var_os("VIRTUAL_ENV").filter(|v| !v.is_empty());
    let target = if let Some(python) = python {
        PythonTarget {
            executable: Some(executable_of(python, "--python")?),
            source: "--python",
        }
    } else if let Some(venv) = virtual_env {
        PythonTarget {
            executable: Some(executable_of(Path::new(&venv), "$VIRTUAL_ENV")?),
            source: "$VIRTUAL_ENV",
        }
    } else if cwd.join(".venv/bin/python").exists() {
        PythonTarget {
            executable: Some(cwd.join(".venv/bin/python")),
            source: "./.venv",
        }
    } else {
        let built = Path::new(BUILD_EXECUTABLE);
        PythonTarget {
            executable: (!BUILD_EXECUTABLE.is_empty() && built.is_file())
                .then(|| built.to_path_buf()),
            source: "build",
        }
    };
    if target.source != "build" {
        if let Some(executable) = &target.executable {
            check_version(executable, target.source)?;
        }
    }
    Ok(target)
}

/// A virtualenv folder's `bin/python`, or the executable itself. Never
/// canonicalised: a virtualenv's python is a symlink to the base interpreter,
/// and only the link's own path leads CPython to the virtualenv.
fn executable_of(given: &Path, source: &str) -> Result<PathBuf> {
    let absolute = std::path::absolute(given)
        .with_context(|| format!("{source} {}: not a usable path", given.display()))?;
    if absolute.is_dir() {
        let python = absolute.join("bin/python");
        if !python.exists() {
            bail!(
                "{source} {}: no bin/python in this folder; name a virtualenv or a python executable",
                given.display()
            );
        }
        return Ok(python);
    }
    if !absolute.is_file() {
        bail!(
            "{source} {}: no such file or folder; name a virtualenv or a python executable",
            given.display()
        );
    }
    Ok(absolute)
}

/// The virtualenv's `pyvenv.cfg`: beside the executable or one folder up, as
/// CPython looks for it.
fn pyvenv_cfg(executable: &Path) -> Option<PathBuf> {
    let dir = executable.parent()?;
    [dir.join("pyvenv.cfg"), dir.parent()?.join("pyvenv.cfg")]
        .into_iter()
        .find(|p| p.is_file())
}

/// `key = value` from a pyvenv.cfg.
fn cfg_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// `3.11` from `3.11.7` or `3.11.7.final.0`.
fn minor_version(full: &str) -> Option<String> {
    let mut parts = full.split('.');
    let major = parts.next()?.trim();
    let minor = parts.next()?.trim();
    (major.parse::<u32>().is_ok() && minor.parse::<u32>().is_ok())
        .then(|| format!("{major}.{minor}"))
}

/// The target's Python version and the base interpreter to build for it.
fn target_version(executable: &Path) -> Result<(String, PathBuf)> {
    if let Some(cfg) = pyvenv_cfg(executable) {
        let text = std::fs::read_to_string(&cfg)
            .with_context(|| format!("cannot read {}", cfg.display()))?;
        let full = cfg_value(&text, "version")
            .or_else(|| cfg_value(&text, "version_info"))
            .with_context(|| format!("{} names no Python version", cfg.display()))?;
        let version = minor_version(&full)
            .with_context(|| format!("{}: unreadable version {full:?}", cfg.display()))?;
        let base = cfg_value(&text, "home")
            .map(|home| Path::new(&home).join(format!("python{version}")))
            .unwrap_or_else(|| executable.to_path_buf());
        return Ok((version, base));
    }
    // Not a virtualenv: ask the interpreter itself.
    let output = Command::new(executable)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .with_context(|| format!("cannot run {}", executable.display()))?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if !output.status.success() || minor_version(&version).is_none() {
        bail!("{} does not report a Python version", executable.display());
    }
    Ok((version, executable.to_path_buf()))
}

fn check_version(executable: &Path, source: &str) -> Result<()> {
    let (version, base) =
        target_version(executable).with_context(|| format!("{source} {}", executable.display()))?;
    if version != BUILD_VERSION {
        bail!(
            "{source} {} is Python {version}, but this leakhunt embeds Python {BUILD_VERSION}: \
             build one for {version} with `PYO3_PYTHON={} cargo install --path .`, \
             or use a Python {BUILD_VERSION} virtualenv",
            executable.display(),
            base.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_from_both_pyvenv_cfg_spellings() {
        assert_eq!(minor_version("3.11.7").as_deref(), Some("3.11"));
        assert_eq!(minor_version("3.12.1.final.0").as_deref(), Some("3.12"));
        assert_eq!(minor_version("x.y"), None);
        let text = "home = /usr/bin\nversion_info = 3.12.1.final.0\n";
        assert_eq!(
            cfg_value(text, "version_info").as_deref(),
            Some("3.12.1.final.0")
        );
        assert_eq!(cfg_value(text, "version"), None);
    }

    #[test]
    fn a_virtualenv_of_another_minor_version_is_refused_naming_both() {
        let root = tempfile::tempdir().unwrap();
        let venv = root.path().join("venv");
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        std::fs::write(venv.join("bin/python"), "").unwrap();
        std::fs::write(
            venv.join("pyvenv.cfg"),
            "home = /opt/py312/bin\nversion = 3.12.4\n",
        )
        .unwrap();
        let error = resolve(Some(&venv), root.path()).unwrap_err().to_string();
        let python = venv.join("bin/python");
        assert_eq!(
            error,
            format!(
                "--python {} is Python 3.12, but this leakhunt embeds Python {BUILD_VERSION}: \
                 build one for 3.12 with `PYO3_PYTHON=/opt/py312/bin/python3.12 cargo install --path .`, \
                 or use a Python {BUILD_VERSION} virtualenv",
                python.display()
            )
        );
    }

    #[test]
    fn a_folder_without_python_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let error = resolve(Some(root.path()), root.path())
            .unwrap_err()
            .to_string();
        assert!(
            error.ends_with(
                "no bin/python in this folder; name a virtualenv or a python executable"
            ),
            "{error}"
        );
    }
}
