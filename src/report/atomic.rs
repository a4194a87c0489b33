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
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)
        .with_context(|| format!("creating folder {} for the {what}", dir.display()))?;
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
