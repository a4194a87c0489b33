//! Which frames are the user's (not the standard library's, site-packages'
//! or leakhunt's), and how they are written: as locations relative to the
//! rootdir, with their source line. The diagnosis and the ResourceWarning
//! check both point at the user's code through it.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use anyhow::Result;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::model::diagnosis::Location;
use crate::model::outcome::TestItem;
use crate::worker::harness::Frames;
use crate::worker::interpreter::harness_error;

/// The user's innermost frame among `frames` (innermost first), as a
/// location; None when every frame is the library's or leakhunt's.
pub fn user_location(py: Python<'_>, rootdir: &Path, frames: &Frames) -> Result<Option<Location>> {
    let folder = Folder::new(py, rootdir)?;
    Ok(frames
        .iter()
        .find(|f| !folder.folded(f))
        .map(|f| folder.location(f)))
}

/// Decides which frames are the user's, and writes them as locations.
pub struct Folder {
    pub rootdir: PathBuf,
    /// The standard library and site-packages folders of the interpreter.
    pub library: Vec<String>,
    /// Test files, the user's wherever they are (`with_test_files`).
    pub test_files: Vec<String>,
}

/// The distinct files of `tests`, absolute (their paths are relative to
/// `rootdir`, with `..` for one outside it), in collection order.
pub fn absolute_files(rootdir: &Path, tests: &[TestItem]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut files = Vec::new();
    for test in tests {
        if !seen.insert(test.path.as_str()) {
            continue;
        }
        let mut path = PathBuf::new();
        for part in rootdir.join(&test.path).components() {
            match part {
                Component::ParentDir => {
                    path.pop();
                }
                Component::CurDir => {}
                other => path.push(other),
            }
        }
        let file = path.to_string_lossy().into_owned();
        if !files.contains(&file) {
            files.push(file);
        }
    }
    files
}

static LIBRARY: PyOnceLock<Vec<String>> = PyOnceLock::new();

impl Folder {
    pub fn new(py: Python<'_>, rootdir: &Path) -> Result<Folder> {
        let library = LIBRARY.get_or_try_init(py, || -> Result<Vec<String>> {
            let paths = py
                .import("sysconfig")
                .and_then(|s| s.call_method0("get_paths"))
                .and_then(|p| p.extract::<std::collections::HashMap<String, String>>())
                .map_err(|e| harness_error(py, &e, "sysconfig.get_paths"))?;
            Ok(["stdlib", "platstdlib", "purelib", "platlib"]
                .iter()
                .filter_map(|k| paths.get(*k))
                .map(|p| format!("{}/", p.trim_end_matches('/')))
                .collect())
        })?;
        Ok(Folder {
            rootdir: rootdir.to_path_buf(),
            library: library.clone(),
            test_files: Vec::new(),
        })
    }

    /// The same, with these test files the user's: greenlet's and
    /// zope.interface's tests run from the installed package, where every
    /// frame was the library's and a leak's diagnosis came out empty.
    pub fn with_test_files(self, files: &[String]) -> Folder {
        let test_files = files
            .iter()
            .filter(|file| self.library_file(file))
            .cloned()
            .collect();
        Folder { test_files, ..self }
    }

    pub fn folded(&self, (file, _): &(String, u32)) -> bool {
        self.library_file(file) && !self.test_files.contains(file)
    }

    fn library_file(&self, file: &str) -> bool {
        // `<leakhunt …>`, `<frozen …>`, `<unknown>`; code run from a string is the user's.
        (file.starts_with('<') && file != "<string>" && file != "<stdin>")
            || file.contains("/site-packages/")
            || file.contains("/dist-packages/")
            || self.library.iter().any(|lib| file.starts_with(lib))
    }

    /// The user's innermost frame; None rather than a library's.
    pub fn user_frame(&self, frames: &Frames) -> Option<Location> {
        let frame = frames.iter().find(|f| !self.folded(f))?;
        Some(self.location(frame))
    }

    pub fn location(&self, (file, line): &(String, u32)) -> Location {
        Location {
            path: relative(&self.rootdir, file),
            line: *line,
            source: source_line(file, *line),
        }
    }
}

/// `file` relative to `rootdir` when it is inside it.
pub fn relative(rootdir: &Path, file: &str) -> String {
    match Path::new(file).strip_prefix(rootdir) {
        Ok(inner) if !rootdir.as_os_str().is_empty() => inner
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
        _ => file.to_string(),
    }
}

/// The stripped source line, or nothing when the file cannot be read.
fn source_line(file: &str, line: u32) -> String {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|text| {
            text.lines()
                .nth((line as usize).checked_sub(1)?)
                .map(|l| l.trim().to_string())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_files_are_made_absolute_once_each() {
        let tests = [
            TestItem::example("tests/test_a.py", "t0"),
            TestItem::example("tests/test_a.py", "t1"),
            TestItem::example("../venv/site-packages/pkg/tests/test_b.py", "t2"),
            TestItem::example("./test_c.py", "t3"),
            TestItem::example("tests/test_a.py", "t4"),
        ];
        assert_eq!(
            absolute_files(Path::new("/r/project"), &tests),
            [
                "/r/project/tests/test_a.py",
                "/r/venv/site-packages/pkg/tests/test_b.py",
                "/r/project/test_c.py",
            ]
        );
    }

    #[test]
    fn paths_inside_the_rootdir_are_relative() {
        assert_eq!(relative(Path::new("/r"), "/r/a/b.py"), "a/b.py");
        assert_eq!(
            relative(Path::new("/r"), "/elsewhere/b.py"),
            "/elsewhere/b.py"
        );
        assert_eq!(relative(Path::new("/r"), "<frozen os>"), "<frozen os>");
    }
}
