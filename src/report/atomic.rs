//! Writing a report file so that readers never see half of it.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use anyhow::Context;

/// Writes `bytes` to `path` atomically: to a temp file in the same folder (a
/// rename is only atomic within one file system), synced, then renamed over
/// `path`, so a crash or Ctrl-C never leaves half a report for CI to read.
/// Creates the parent folder if missing. `what` names the report in errors
/// ("JUnit report").
pub fn write_atomically(path: &Path, bytes: &[u8], what: &str) -> anyhow::Result<()> {
    let dir = folder_of(path, what)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".leakhunt-report-").suffix(".tmp");
    // A temp file is private (0600) by default; a report is read by CI tools
    // that may run as another user, so give it a normal file's mode.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o644));
    }
    let mut file = builder
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("writing {what} {}", path.display()))?;
    file.persist(path)
        .map_err(|error| error.error)
        .with_context(|| format!("writing {what} {}", path.display()))?;
    Ok(())
}

/// Checks, before a session runs, that a report can be written to `path`
/// later: its folder exists or can be made, and a file can be made in it.
/// A path in a folder no one can write to failed only after every test had
/// run, and took the session's exit code with it.
pub fn check_writable(path: &Path, what: &str) -> anyhow::Result<()> {
    if path.is_dir() {
        anyhow::bail!("{} is a folder", path.display());
    }
    let dir = folder_of(path, what)?;
    tempfile::Builder::new()
        .prefix(".leakhunt-report-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    Ok(())
}

/// The folder `path` is in, made when missing.
fn folder_of<'a>(path: &'a Path, what: &str) -> anyhow::Result<&'a Path> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)
        .with_context(|| format!("creating folder {} for the {what}", dir.display()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temp_behind() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("nested/reports");
        let path = folder.join("report.txt");
        write_atomically(&path, b"first", "test report").unwrap();
        write_atomically(&path, b"second", "test report").unwrap();
        let names: Vec<_> = fs::read_dir(&folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["report.txt"]);
        assert_eq!(fs::read(&path).unwrap(), b"second");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
    }

    #[test]
    fn error_names_the_report_and_path() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the file should go makes the rename fail.
        let path = dir.path().join("taken");
        fs::create_dir(&path).unwrap();
        let error = write_atomically(&path, b"x", "test report").unwrap_err();
        let text = format!("{error:#}");
        assert!(
            text.contains("taken") && text.contains("test report"),
            "{text}"
        );
    }
}
