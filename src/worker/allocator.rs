//! The bytes in use on the heap, read for nothing between runs: what Python's
//! small-object allocator (pymalloc) holds, counted by a thin hook around its
//! two domains, plus what glibc's malloc holds (`mallinfo2`), which serves
//! every larger Python object and every C library.
//!
//! The hook (`hook.rs`) exists only where leakhunt starts the interpreter
//! itself: it must wrap the allocators before their first block. Under the
//! wheel, CPython is already running when leakhunt loads; there pymalloc's
//! bytes come from CPython's own statistics of its arenas
//! (`pymalloc_stats.rs`), which cost a walk of the arenas per sample.
//!
//! tracemalloc gave this figure before, but it records a traceback for every
//! allocation, which makes allocation-heavy tests 2–4 times slower (and a
//! plain loop over ints 17 times). The hook only adds the request's size to a
//! counter: the size travels in a 16-byte header in front of each block, since
//! pymalloc cannot say how big a block it is asked to free is.

#[cfg(not(feature = "wheel"))]
mod hook;
#[cfg(not(feature = "wheel"))]
pub use hook::install;
#[cfg(any(feature = "wheel", test))]
mod pymalloc_stats;

/// Whether the hook counts pymalloc's blocks in use (`counted_blocks`);
/// under the wheel, `sys.getallocatedblocks()` walks pymalloc's pools to tell.
pub const BLOCKS_COUNTED: bool = cfg!(not(feature = "wheel"));

/// pymalloc's blocks in use, as `sys.getallocatedblocks()` counts them.
#[cfg(not(feature = "wheel"))]
pub fn counted_blocks() -> i64 {
    hook::small_blocks()
}

/// Bytes in use on the heap: pymalloc's blocks as requested, and malloc's
/// chunks (including those it maps one by one).
pub fn heap_bytes() -> i64 {
    // malloc's first: reading pymalloc's statistics uses a malloc'd buffer.
    let malloc = malloc_in_use();
    small_bytes() + malloc
}

/// Bytes pymalloc holds: the requests the hook counted, or under the wheel,
/// where there is no hook, its blocks in use as CPython counts them.
fn small_bytes() -> i64 {
    #[cfg(not(feature = "wheel"))]
    {
        hook::small_bytes()
    }
    #[cfg(feature = "wheel")]
    {
        pymalloc_stats::allocated_bytes()
    }
}

fn malloc_in_use() -> i64 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        /// glibc's `struct mallinfo2`: ten size_t fields.
        #[repr(C)]
        struct MallInfo2 {
            arena: usize,
            ordblks: usize,
            smblks: usize,
            hblks: usize,
            hblkhd: usize,
            usmblks: usize,
            fsmblks: usize,
            uordblks: usize,
            fordblks: usize,
            keepcost: usize,
        }
        extern "C" {
            fn mallinfo2() -> MallInfo2;
        }
        // SAFETY: mallinfo2 only reads malloc's statistics (under its lock).
        let info = unsafe { mallinfo2() };
        (info.uordblks + info.hblkhd) as i64
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        0
    }
}
