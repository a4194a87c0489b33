//! The /proc readings the sampler takes, in a process of their own: the
//! library's unit tests run side by side in one process, and would open
//! files and start threads under each other's feet.

use std::fs::File;
use std::os::fd::AsRawFd;

use leakhunt::worker::proc_self::ProcSelf;

#[test]
fn the_counts_follow_files_and_threads_and_survive_a_closed_descriptor() {
    let mut proc_self = ProcSelf::new();
    let fds = proc_self.fds();
    let opened = File::open("/proc/self/status").expect("open /proc/self/status");
    assert_eq!(proc_self.fds(), fds + 1);
    drop(opened);
    assert_eq!(proc_self.fds(), fds);

    let threads = proc_self.threads();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || stopped.recv());
    assert_eq!(proc_self.threads(), threads + 1);
    drop(stop);
    let _ = thread.join();

    // A test that closes every descriptor it did not open: the kept ones are
    // opened again, and still not counted.
    let resident = proc_self.resident_bytes();
    assert!(resident > 0, "resident bytes: {resident}");
    for fd in 900..1024 {
        // SAFETY: descriptors from 900 up are only the ones ProcSelf keeps.
        unsafe { libc::close(fd) };
    }
    assert_eq!(proc_self.fds(), fds);
    assert!(proc_self.resident_bytes() > 0);
    assert!(proc_self.threads() >= 1);
    let status = File::open("/proc/self/status").expect("open /proc/self/status");
    assert!(status.as_raw_fd() < 900);
}
