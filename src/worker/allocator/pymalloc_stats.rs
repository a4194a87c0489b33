//! pymalloc's allocated bytes where no hook could be installed (the wheel,
//! loaded into a running CPython): CPython's own `_PyObject_DebugMallocStats`
//! (what `sys._debugmallocstats()` prints) walks pymalloc's arenas, not the
//! objects, and says how many bytes its blocks in use hold. Blocks are
//! rounded to 16 bytes, so a list buffer growing by one pointer a run shows
//! every second run. The symbol is not in the limited API; it is looked up
//! in the running process, which exports it on every CPython 3.10–3.13
//! (from libpython, or from a static `python` executable).
// Built without the wheel only so that `cargo test` checks the parser.
#![cfg_attr(not(feature = "wheel"), allow(dead_code))]

use std::ffi::{c_char, c_int, CStr};
use std::sync::OnceLock;

type Stats = unsafe extern "C" fn(*mut libc::FILE) -> c_int;

fn stats() -> Option<Stats> {
    static FOUND: OnceLock<usize> = OnceLock::new();
    let address = *FOUND.get_or_init(|| {
        // SAFETY: dlsym only searches the symbols already loaded.
        unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"_PyObject_DebugMallocStats".as_ptr()) as usize }
    });
    // SAFETY: the symbol is CPython's `int _PyObject_DebugMallocStats(FILE *)`.
    (address != 0).then(|| unsafe { std::mem::transmute::<usize, Stats>(address) })
}

/// Bytes in pymalloc's blocks in use; 0 when pymalloc is not the allocator
/// (`PYTHONMALLOC=malloc`: malloc's count sees everything then). Call with
/// the GIL held.
pub fn allocated_bytes() -> i64 {
    let Some(stats) = stats() else {
        return 0;
    };
    let mut buffer: *mut c_char = std::ptr::null_mut();
    let mut size = 0usize;
    // SAFETY: open_memstream writes the buffer's address and size on close.
    let file = unsafe { libc::open_memstream(&mut buffer, &mut size) };
    if file.is_null() {
        return 0;
    }
    // SAFETY: a valid FILE*, and the caller holds the GIL.
    let used = unsafe { stats(file) };
    // SAFETY: the stream is ours; closing it finalises `buffer`.
    unsafe { libc::fclose(file) };
    if buffer.is_null() {
        return 0;
    }
    // SAFETY: open_memstream's buffer is NUL-terminated.
    let text = unsafe { CStr::from_ptr(buffer) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: the buffer was allocated by open_memstream with malloc.
    unsafe { libc::free(buffer.cast()) };
    if used == 0 {
        return 0;
    }
    parse(&text).unwrap_or(0)
}

/// The figure of the "# bytes in allocated blocks = 1,234" line.
fn parse(text: &str) -> Option<i64> {
    let line = text
        .lines()
        .find(|line| line.starts_with("# bytes in allocated blocks"))?;
    let (_, value) = line.split_once('=')?;
    value.trim().replace(',', "").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn reads_the_allocated_bytes_line_with_its_thousands_separators() {
        let text = "# arenas allocated total           =            3,077\n\
                    # bytes in allocated blocks        =       11,272,160\n\
                    # bytes in available blocks        =          183,296\n";
        assert_eq!(parse(text), Some(11_272_160));
        assert_eq!(parse("Small block threshold = 512\n"), None);
    }
}
