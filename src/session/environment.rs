//! Which Python the tests run in: the user's virtualenv when there is one.
//!
//! `--python PATH`, else `$VIRTUAL_ENV`, else `./.venv`, else leakhunt's own
//! Python (the binary's build interpreter, or the one running the wheel).
//! What leakhunt cannot run in is refused up front, in one line: CPython
//! before 3.10, PyPy, a free-threaded build; and, for the binary, whose
//! embedded libpython is the build's, another minor version.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::session::launch;

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
        PythonTarget {
            executable: launch::own_python()?,
            source: "build",
        }
    };
    // leakhunt's own Python is known to work; a user's is asked what it is.
    if target.source != "build" {
        if let Some(executable) = &target.executable {
            check(executable, target.source)?;
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

/// What an interpreter says it is.
#[derive(Debug, PartialEq, Eq)]
struct Probed {
    /// `platform.python_implementation()`: `CPython`, `PyPy`…
    implementation: String,
    major: u32,
    minor: u32,
    /// `Py_GIL_DISABLED`: a free-threaded build (3.13t).
    free_threaded: bool,
}

/// Asks the interpreter; Python 2 must be able to answer too, to be refused.
const PROBE: &str = "import platform, sys, sysconfig; print('%s %d %d %s' % (\
platform.python_implementation(), sys.version_info[0], sys.version_info[1], \
sysconfig.get_config_var('Py_GIL_DISABLED') or 0))";

fn probe(executable: &Path) -> Result<Probed> {
    let output = Command::new(executable)
        .args(["-S", "-c", PROBE])
        .output()
        .with_context(|| format!("cannot run {}", executable.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let parsed = (|| {
        let mut words = text.split_whitespace();
        let probed = Probed {
            implementation: words.next()?.to_string(),
            major: words.next()?.parse().ok()?,
            minor: words.next()?.parse().ok()?,
            free_threaded: words.next()? == "1",
        };
        words.next().is_none().then_some(probed)
    })();
    match parsed {
        Some(probed) if output.status.success() => Ok(probed),
        _ => bail!("{} does not report a Python version", executable.display()),
    }
}

/// The refusals, each naming the problem and the way out, then the front
/// end's own rule (the binary's embedded version). A virtualenv's pyvenv.cfg
/// tells its version before anything runs.
fn check(executable: &Path, source: &str) -> Result<()> {
    let described = format!("{source} {}", executable.display());
    let from_cfg = venv_version(executable)?;
    if let Some(version) = from_cfg {
        refuse_before_3_10(&described, version)?;
    }
    let probed = match probe(executable) {
        Ok(probed) => probed,
        Err(error) => {
            // Cannot run: the version rule may still say why.
            if let Some((major, minor)) = from_cfg {
                let version = format!("{major}.{minor}");
                let base = base_interpreter(executable, &version);
                launch::check_version(&described, &version, &base)?;
            }
            return Err(error.context(described));
        }
    };
    refuse_before_3_10(&described, (probed.major, probed.minor))?;
    let version = format!("{}.{}", probed.major, probed.minor);
    if probed.implementation != "CPython" {
        bail!(
            "{described} is {} (Python {version}): leakhunt measures CPython's own allocator \
             and collector, so it runs tests in CPython only; use a CPython 3.10 or newer virtualenv",
            probed.implementation
        );
    }
    if probed.free_threaded {
        bail!(
            "{described} is a free-threaded build of Python {version}, which leakhunt does not \
             support yet; use the default build (with the GIL) of Python {version}"
        );
    }
    launch::check_version(
        &described,
        &version,
        &base_interpreter(executable, &version),
    )
}

fn refuse_before_3_10(described: &str, (major, minor): (u32, u32)) -> Result<()> {
    if (major, minor) < (3, 10) {
        bail!(
            "{described} is Python {major}.{minor}: leakhunt needs CPython 3.10 or newer; \
             use a virtualenv of CPython 3.10 to 3.13"
        );
    }
    Ok(())
}

/// A virtualenv's Python version, from its pyvenv.cfg (`version` from venv,
/// `version_info` from virtualenv); None when it is not a virtualenv.
fn venv_version(executable: &Path) -> Result<Option<(u32, u32)>> {
    let Some(cfg) = pyvenv_cfg(executable) else {
        return Ok(None);
    };
    let text =
        std::fs::read_to_string(&cfg).with_context(|| format!("cannot read {}", cfg.display()))?;
    let Some(full) = cfg_value(&text, "version").or_else(|| cfg_value(&text, "version_info"))
    else {
        return Ok(None);
    };
    let mut parts = full.split('.').map(|p| p.trim().parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => Ok(Some((major, minor))),
        _ => bail!("{}: unreadable version {full:?}", cfg.display()),
    }
}

/// The interpreter a virtualenv was made from (`home` in its pyvenv.cfg),
/// else the executable itself: the one to build leakhunt against.
fn base_interpreter(executable: &Path, version: &str) -> PathBuf {
    pyvenv_cfg(executable)
        .and_then(|cfg| std::fs::read_to_string(cfg).ok())
        .and_then(|text| cfg_value(&text, "home"))
        .map(|home| Path::new(&home).join(format!("python{version}")))
        .unwrap_or_else(|| executable.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A virtualenv whose `bin/python` answers the probe with `answer`.
    fn fake_venv(root: &Path, answer: &str) -> PathBuf {
        let venv = root.join("venv");
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        let python = venv.join("bin/python");
        std::fs::write(&python, format!("#!/bin/sh\necho '{answer}'\n")).unwrap();
        std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(venv.join("pyvenv.cfg"), "home = /opt/py/bin\n").unwrap();
        venv
    }

    fn refusal(answer: &str) -> (String, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let venv = fake_venv(root.path(), answer);
        let error = resolve(Some(&venv), root.path()).unwrap_err().to_string();
        (error, venv.join("bin/python"))
    }

    #[test]
    fn the_probe_reads_implementation_version_and_build() {
        let root = tempfile::tempdir().unwrap();
        let venv = fake_venv(root.path(), "CPython 3 13 1");
        assert_eq!(
            probe(&venv.join("bin/python")).unwrap(),
            Probed {
                implementation: "CPython".into(),
                major: 3,
                minor: 13,
                free_threaded: true
            }
        );
        let venv = fake_venv(root.path(), "CPython 3 13");
        let error = probe(&venv.join("bin/python")).unwrap_err().to_string();
        assert!(
            error.ends_with("does not report a Python version"),
            "{error}"
        );
    }

    #[test]
    fn a_python_before_3_10_is_refused() {
        let (error, python) = refusal("CPython 3 9 0");
        assert_eq!(
            error,
            format!(
                "--python {} is Python 3.9: leakhunt needs CPython 3.10 or newer; \
                 use a virtualenv of CPython 3.10 to 3.13",
                python.display()
            )
        );
    }

    #[test]
    fn a_virtualenv_before_3_10_is_refused_from_its_pyvenv_cfg_alone() {
        let root = tempfile::tempdir().unwrap();
        let venv = root.path().join("venv");
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        std::fs::write(venv.join("bin/python"), "").unwrap();
        std::fs::write(venv.join("pyvenv.cfg"), "version_info = 3.9.18.final.0\n").unwrap();
        let error = resolve(Some(&venv), root.path()).unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "--python {} is Python 3.9: leakhunt needs CPython 3.10 or newer; \
                 use a virtualenv of CPython 3.10 to 3.13",
                venv.join("bin/python").display()
            )
        );
    }

    #[test]
    fn pypy_is_refused() {
        let (error, python) = refusal("PyPy 3 10 0");
        assert_eq!(
            error,
            format!(
                "--python {} is PyPy (Python 3.10): leakhunt measures CPython's own allocator \
                 and collector, so it runs tests in CPython only; use a CPython 3.10 or newer \
                 virtualenv",
                python.display()
            )
        );
    }

    #[test]
    fn a_free_threaded_build_is_refused() {
        let (error, python) = refusal("CPython 3 13 1");
        assert_eq!(
            error,
            format!(
                "--python {} is a free-threaded build of Python 3.13, which leakhunt does not \
                 support yet; use the default build (with the GIL) of Python 3.13",
                python.display()
            )
        );
    }

    #[cfg(not(feature = "wheel"))]
    #[test]
    fn the_binary_refuses_another_minor_version_naming_both() {
        use crate::session::launch::BUILD_VERSION;
        let other = if BUILD_VERSION == "3.12" { "13" } else { "12" };
        let (error, python) = refusal(&format!("CPython 3 {other} 0"));
        assert_eq!(
            error,
            format!(
                "--python {} is Python 3.{other}, but this leakhunt embeds Python {BUILD_VERSION}: \
                 build one for 3.{other} with `PYO3_PYTHON=/opt/py/bin/python3.{other} cargo \
                 install --path .`, or use a Python {BUILD_VERSION} virtualenv",
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
