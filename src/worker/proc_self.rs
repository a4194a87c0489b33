//! The process's open descriptors, threads and resident memory, read from
//! /proc through files kept open: opening, reading and closing a /proc file
//! costs 10–20 µs a time, three times a sample, where reading one already
//! open costs 2–5 µs.
//!
//! A test may close any descriptor, or open another file under a number that
//! was ours: each kept file is checked (same device and inode) before it is
//! read, and opened again when it is not the one it was.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt};

/// Where the kept descriptors go: out of the way of the low numbers a test
/// opens and closes.
const FIRST_KEPT_FD: i32 = 900;

pub struct ProcSelf {
    statm: Kept,
    stat: Kept,
    fd_dir: Kept,
    /// getdents64's buffer, allocated once.
    entries: Vec<u8>,
}

struct Kept {
    path: &'static str,
    file: Option<File>,
    identity: (u64, u64),
}

impl Kept {
    fn new(path: &'static str) -> Kept {
        Kept {
            path,
            file: None,
            identity: (0, 0),
        }
    }

    /// The file's text from its start, read into `buffer`.
    fn read<'b>(&mut self, buffer: &'b mut [u8]) -> Option<&'b [u8]> {
        let read = self.file()?.read_at(buffer, 0).ok()?;
        Some(&buffer[..read])
    }

    /// The open file, opened again when a test closed or replaced it.
    fn file(&mut self) -> Option<&File> {
        let still_ours = self.file.as_ref().is_some_and(|file| {
            file.metadata()
                .is_ok_and(|m| (m.dev(), m.ino()) == self.identity)
        });
        if !still_ours {
            // A descriptor a test replaced is not ours to close: forget it.
            if let Some(file) = self.file.take() {
                std::mem::forget(file);
            }
            self.file = open_high(self.path);
            self.identity = self
                .file
                .as_ref()
                .and_then(|f| f.metadata().ok())
                .map_or((0, 0), |m| (m.dev(), m.ino()));
        }
        self.file.as_ref()
    }
}

/// Opens `path` (read-only, close-on-exec) under a high descriptor number.
fn open_high(path: &str) -> Option<File> {
    use std::os::fd::FromRawFd;
    let file = File::open(path).ok()?;
    // SAFETY: fcntl on a descriptor this function owns.
    let high = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_DUPFD_CLOEXEC, FIRST_KEPT_FD) };
    if high < 0 {
        return Some(file);
    }
    // SAFETY: `high` is a new descriptor owned by nobody else.
    Some(unsafe { File::from_raw_fd(high) })
}

impl Default for ProcSelf {
    fn default() -> Self {
        ProcSelf::new()
    }
}

impl ProcSelf {
    pub fn new() -> ProcSelf {
        ProcSelf {
            statm: Kept::new("/proc/self/statm"),
            stat: Kept::new("/proc/self/stat"),
            fd_dir: Kept::new("/proc/self/fd"),
            entries: vec![0; 32 * 1024],
        }
    }

    /// Open file descriptors, not counting the ones kept here.
    pub fn fds(&mut self) -> i64 {
        // Each kept file is checked (and reopened) first, so that the
        // directory lists exactly the kept ones that are open.
        let kept = [&mut self.statm, &mut self.stat, &mut self.fd_dir]
            .into_iter()
            .filter_map(|kept| kept.file())
            .count() as i64;
        let Some(dir) = self.fd_dir.file.as_ref() else {
            return 0;
        };
        let fd = dir.as_raw_fd();
        // SAFETY: rewinds a directory descriptor this value owns.
        if unsafe { libc::lseek(fd, 0, libc::SEEK_SET) } < 0 {
            return 0;
        }
        let mut count = 0i64;
        loop {
            // SAFETY: the buffer is ours and its length is passed along.
            let read = unsafe {
                libc::syscall(
                    libc::SYS_getdents64,
                    fd,
                    self.entries.as_mut_ptr(),
                    self.entries.len(),
                )
            };
            if read <= 0 {
                break;
            }
            count += count_entries(&self.entries[..read as usize]);
        }
        count - kept
    }

    /// The process's threads (field 20 of /proc/self/stat).
    pub fn threads(&mut self) -> i64 {
        let mut buffer = [0u8; 1024];
        self.stat
            .read(&mut buffer)
            .and_then(parse_threads)
            .unwrap_or(0)
    }

    /// Resident memory not backed by a file, in bytes: statm's resident
    /// minus shared pages. Pages of code and mapped files are left out: the
    /// first call of a function maps a 64 KiB chunk of the binary (the
    /// kernel's fault-around), which is not a leak, and moved with every
    /// rebuild of leakhunt.
    pub fn resident_bytes(&mut self) -> i64 {
        let mut buffer = [0u8; 256];
        self.statm
            .read(&mut buffer)
            .map_or(0, |statm| parse_statm(statm) * page_size())
    }
}

/// Directory entries in a getdents64 buffer, "." and ".." left out.
fn count_entries(buffer: &[u8]) -> i64 {
    // struct linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, name.
    let mut count = 0;
    let mut at = 0;
    while at + 19 < buffer.len() {
        let reclen = u16::from_ne_bytes([buffer[at + 16], buffer[at + 17]]) as usize;
        if reclen == 0 {
            break;
        }
        let name = &buffer[at + 19..(at + reclen).min(buffer.len())];
        let name = name.split(|&b| b == 0).next().unwrap_or(&[]);
        if name != b"." && name != b".." {
            count += 1;
        }
        at += reclen;
    }
    count
}

/// num_threads from /proc/self/stat: the 18th field after the command
/// name, which is in parentheses and may itself hold spaces and ')'.
fn parse_threads(stat: &[u8]) -> Option<i64> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    rest.split_whitespace().nth(17)?.parse().ok()
}

/// statm's resident minus shared, in pages.
fn parse_statm(statm: &[u8]) -> i64 {
    let text = std::str::from_utf8(statm).unwrap_or("");
    let fields: Vec<i64> = text
        .split_whitespace()
        .map_while(|p| p.parse::<i64>().ok())
        .collect();
    match fields.as_slice() {
        [_, resident, shared, ..] => resident - shared,
        _ => 0,
    }
}

fn page_size() -> i64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size
    } else {
        4096
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_come_from_the_twentieth_field_even_with_a_parenthesis_in_the_name() {
        let stat = b"4242 (a) b) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 7 0 123 4096 50";
        assert_eq!(parse_threads(stat), Some(7));
    }

    #[test]
    fn resident_memory_leaves_out_shared_pages() {
        assert_eq!(parse_statm(b"4175 3442 1697 1 0 2053 0\n"), 1745);
        assert_eq!(parse_statm(b""), 0);
    }
}
