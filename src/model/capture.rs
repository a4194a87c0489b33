//! Test output: a worker sends its fds 1 and 2 to a file; what a test wrote is
//! read back from the offset where it started, bounded in size.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// At most this much of a test's output is kept: the end, where the error is.
pub const CAPTURE_LIMIT: u64 = 64 * 1024;

/// What was written to the capture file since `offset`, the last
/// `CAPTURE_LIMIT` bytes of it, with a note when cut. Bytes that are not UTF-8
/// are replaced, never fatal.
pub fn read_since(path: &Path, offset: u64) -> String {
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let end = file.metadata().map(|m| m.len()).unwrap_or(0);
    if end <= offset {
        return String::new();
    }
    let start = offset.max(end.saturating_sub(CAPTURE_LIMIT));
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    let text = crate::model::sanitize::undecodable_escaped(&bytes);
    if start > offset {
        format!(
            "[output cut: {} bytes before this were dropped; the last {} KiB follow]\n{text}",
            start - offset,
            CAPTURE_LIMIT / 1024
        )
    } else {
        text
    }
}

/// Where a hung test's stack goes when the supervisor asks for it.
pub fn stack_path(capture_path: &Path) -> std::path::PathBuf {
    capture_path.with_extension("stack")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_from_the_offset_and_keeps_the_end_of_long_output() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("capture");
        std::fs::write(&path, b"before|after \xff\n").unwrap();
        assert_eq!(read_since(&path, 7), "after \\udcff\n");
        assert_eq!(read_since(&path, 100), "");
        let long = vec![b'x'; 70 * 1024];
        std::fs::write(&path, &long).unwrap();
        let text = read_since(&path, 0);
        assert!(text.starts_with(
            "[output cut: 6144 bytes before this were dropped; the last 64 KiB follow]\n"
        ));
        assert!(text.ends_with(&"x".repeat(64 * 1024)));
    }
}
