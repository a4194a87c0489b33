//! Reports are written whole or not at all.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use anyhow::Context;

/// Writes `contents` to a temp file in the same folder, then renames it over
/// `path`, so a crash never leaves half a file. Creates the parent folder if
/// missing. `what` names the report in errors.
pub fn write_atomically(path: &Path, contents: &[u8], what: &str) -> anyhow::Result<()> {
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
    file.write_all(contents)
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("writing {what} {}", path.display()))?;
    file.persist(path)
        .map_err(|error| error.error)
        .with_context(|| format!("writing {what} {}", path.display()))?;
    Ok(())
}
