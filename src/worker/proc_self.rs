//! The process's open descriptors, threads and resident memory, read from
//! /proc through files kept open: opening, reading and closing a /proc file
//! costs 10–20 µs a time, three times a sample, where reading one already
//! open costs 2–5 µs.
//!
//! Descriptors and threads are counted by the check each kept file gets
//! anyway (an fstat): /proc/self/fd's size is the number of open
//! descriptors (Linux 6.2 on), and /proc/self/task's link count is 2 and
//! the number of threads, the same count as /proc/self/stat's num_threads.
//! Listing /proc/self/fd cost 8–15 µs a sample (the kernel makes a dentry
//! for every descriptor) and reading /proc/self/stat 5–10 µs (it formats
//! some fifty fields, summing every thread's times); an fstat costs under
//! 1 µs. Older kernels, where the fd folder's size is 0, get it listed.
//!
//! A test may close any descriptor, or open another file under a number that
//! was ours: each kept file is checked (same device and inode) before it is
//! read, and opened again when it is not the one it was.

use std::fs::File;
use std::fs::Metadata;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt};

/// Where the kept descriptors go: out of the way of the low numbers a test
/// opens and closes.
const FIRST_KEPT_FD: i32 = 900;

pub struct ProcSelf {
    statm: Kept,
    task_dir: Kept,
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
        let (file, _) = self.check()?;
        let read = file.read_at(buffer, 0).ok()?;
        Some(&buffer[..read])
    }

    /// The open file, opened again when a test closed or replaced it, and
    /// what the fstat that checked it said (its size and link count count
    /// descriptors and threads).
    fn check(&mut self) -> Option<(&File, Option<Metadata>)> {
        let mut metadata = self.file.as_ref().and_then(|file| file.metadata().ok());
        let still_ours = metadata
            .as_ref()
            .is_some_and(|m| (m.dev(), m.ino()) == self.identity);
        if !still_ours {
            // A descriptor a test replaced is not ours to close: forget it.
            if let Some(file) = self.file.take() {
                std::mem::forget(file);
            }
            self.file = open_high(self.path);
            metadata = self.file.as_ref().and_then(|f| f.metadata().ok());
            self.identity = metadata.as_ref().map_or((0, 0), |m| (m.dev(), m.ino()));
        }
        Some((self.file.as_ref()?, metadata))
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
            task_dir: Kept::new("/proc/self/task"),
            fd_dir: Kept::new("/proc/self/fd"),
            entries: vec![0; 32 * 1024],
        }
    }

    /// Open file descriptors, not counting the ones kept here.
    pub fn fds(&mut self) -> i64 {
        // Each kept file is checked (and reopened) first, the folder last, so
        // that it counts exactly the kept ones that are open.
        let others = [&mut self.statm, &mut self.task_dir]
            .into_iter()
            .filter_map(|kept| kept.check())
            .count() as i64;
        let Some((dir, metadata)) = self.fd_dir.check() else {
            return 0;
        };
        // The folder's own descriptor is open: a size of 0 is an older kernel.
        let open = match metadata.map_or(0, |m| m.size()) {
            0 => count_entries_of(dir, &mut self.entries),
            size => size as i64,
        };
        open - others - 1
    }

    /// The process's threads: /proc/self/task's link count less 2, or on a
    /// kernel that would not say, its entries.
    pub fn threads(&mut self) -> i64 {
        let Some((dir, metadata)) = self.task_dir.check() else {
            return 0;
        };
        match metadata.map_or(0, |m| m.nlink()) {
            links @ 3.. => links as i64 - 2,
            _ => count_entries_of(dir, &mut self.entries),
        }
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

/// The entries of an open /proc directory, "." and ".." left out; 0 when
/// it cannot be read.
fn count_entries_of(dir: &File, buffer: &mut [u8]) -> i64 {
    let fd = dir.as_raw_fd();
    // SAFETY: rewinds a directory descriptor the caller owns.
    if unsafe { libc::lseek(fd, 0, libc::SEEK_SET) } < 0 {
        return 0;
    }
    let mut count = 0i64;
    loop {
        // SAFETY: the buffer is ours and its length is passed along.
        let read =
            unsafe { libc::syscall(libc::SYS_getdents64, fd, buffer.as_mut_ptr(), buffer.len()) };
        if read <= 0 {
            break;
        }
        let read = read as usize;
        count += count_entries(&buffer[..read]);
        // /proc fills the buffer while the next entry fits (one is at most
        // 280 bytes: 19 and a name of up to 256): this much room left means
        // it listed everything, and the call that would say so is saved.
        if read + 512 <= buffer.len() {
            break;
        }
    }
    count
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
    fn a_folder_is_counted_whole_whether_its_listing_fills_the_buffer_or_not() {
        let folder = tempfile::tempdir().unwrap();
        for n in 0..50 {
            std::fs::write(folder.path().join(format!("f{n:02}")), b"").unwrap();
        }
        let dir = File::open(folder.path()).unwrap();
        // 50 entries of 24 bytes and "." and "..": several calls to list.
        assert_eq!(count_entries_of(&dir, &mut [0u8; 600]), 50);
        assert_eq!(count_entries_of(&dir, &mut vec![0u8; 32 * 1024]), 50);
    }

    #[test]
    fn resident_memory_leaves_out_shared_pages() {
        assert_eq!(parse_statm(b"4175 3442 1697 1 0 2053 0\n"), 1745);
        assert_eq!(parse_statm(b""), 0);
    }
}
