//! The hook around pymalloc's MEM and OBJ domains that counts the bytes
//! of the requests it serves (see the parent module).

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use pyo3::ffi::{self, PyMemAllocatorDomain, PyMemAllocatorEx};

/// In front of every block: the size asked for, and whether it is counted
/// here (pymalloc's) or by `mallinfo2`. 16 keeps pymalloc's alignment.
const HEADER: usize = 16;

/// Requests above this size go from pymalloc straight to malloc, where
/// `mallinfo2` sees them: CPython's SMALL_REQUEST_THRESHOLD (3.8 to 3.13).
const SMALL_REQUEST: usize = 512;

/// Bytes asked for and not yet freed, of the requests pymalloc serves itself.
static SMALL_BYTES: AtomicI64 = AtomicI64::new(0);

/// Those requests' blocks: what `sys.getallocatedblocks()` counts, which
/// walks every pool of every arena to find it (16–30 µs a sample with a few
/// thousand tests collected, 17 % of a worker's time on 20,000 tiny tests).
static SMALL_BLOCKS: AtomicI64 = AtomicI64::new(0);

/// Whether the hook's requests land in pymalloc at all (not under
/// `PYTHONMALLOC=malloc`, where malloc sees everything).
static COUNTING: AtomicBool = AtomicBool::new(false);

/// The allocators the hook passes the requests to (MEM, then OBJ domain).
static mut INNER: [PyMemAllocatorEx; 2] = [EMPTY; 2];

const EMPTY: PyMemAllocatorEx = PyMemAllocatorEx {
    ctx: std::ptr::null_mut(),
    malloc: None,
    calloc: None,
    realloc: None,
    free: None,
};

/// Wraps the MEM and OBJ domains. Must run after Python's pre-initialisation
/// (which sets the allocators `PYTHONMALLOC` asks for) and before any block
/// of those domains exists: every block freed through the hook must carry
/// its header.
///
/// # Safety
/// Call once, from the thread that initialises Python, before
/// `Py_InitializeFromConfig`.
pub unsafe fn install() {
    let pymalloc = !std::env::var("PYTHONMALLOC")
        .is_ok_and(|name| name.contains("malloc") && !name.contains("pymalloc"));
    COUNTING.store(pymalloc, Ordering::Relaxed);
    let domains = [
        PyMemAllocatorDomain::PYMEM_DOMAIN_MEM,
        PyMemAllocatorDomain::PYMEM_DOMAIN_OBJ,
    ];
    for (slot, domain) in domains.into_iter().enumerate() {
        // SAFETY: INNER is written here only, before any hook call reads it.
        unsafe {
            let inner = std::ptr::addr_of_mut!(INNER[slot]);
            ffi::PyMem_GetAllocator(domain, inner);
            let mut hook = PyMemAllocatorEx {
                ctx: inner.cast(),
                malloc: Some(hook_malloc),
                calloc: Some(hook_calloc),
                realloc: Some(hook_realloc),
                free: Some(hook_free),
            };
            ffi::PyMem_SetAllocator(domain, &mut hook);
        }
    }
}

/// Bytes asked for and not yet freed, of the requests pymalloc served.
pub fn small_bytes() -> i64 {
    SMALL_BYTES.load(Ordering::Relaxed)
}

/// Whether a fresh request of `size` bytes is served by pymalloc itself.
fn small(size: usize) -> bool {
    size + HEADER <= SMALL_REQUEST && COUNTING.load(Ordering::Relaxed)
}

/// Blocks pymalloc serves and that were not yet freed.
pub fn small_blocks() -> i64 {
    SMALL_BLOCKS.load(Ordering::Relaxed)
}

/// A load and a store, not `fetch_add`: the MEM and OBJ domains are called
/// with the GIL held, so no two calls overlap, and a locked add was 93 % of
/// the hook's own time (11 % of a worker's on idna's suite).
fn count(size: usize, counted: bool, sign: i64) {
    if counted {
        add(&SMALL_BYTES, sign * size as i64);
        add(&SMALL_BLOCKS, sign);
    }
}

fn add(counter: &AtomicI64, delta: i64) {
    counter.store(counter.load(Ordering::Relaxed) + delta, Ordering::Relaxed);
}

/// The inner allocator `ctx` points to.
fn inner(ctx: *mut c_void) -> &'static PyMemAllocatorEx {
    // SAFETY: ctx is the address of an INNER slot, set once by `install`.
    unsafe { &*ctx.cast::<PyMemAllocatorEx>() }
}

/// Writes the header of a fresh block and returns the caller's part of it.
fn finish(block: *mut c_void, size: usize, counted: bool) -> *mut c_void {
    if block.is_null() {
        return block;
    }
    count(size, counted, 1);
    // SAFETY: the block is at least HEADER bytes, aligned to 16.
    unsafe {
        let header = block.cast::<usize>();
        header.write(size);
        header.add(1).write(usize::from(counted));
        block.cast::<u8>().add(HEADER).cast()
    }
}

/// The block, and the size and counting recorded, of a pointer the hook
/// handed out.
fn block_of(ptr: *mut c_void) -> (*mut c_void, usize, bool) {
    // SAFETY: every pointer of these domains came from `finish`.
    unsafe {
        let block = ptr.cast::<u8>().sub(HEADER).cast::<c_void>();
        let header = block.cast::<usize>();
        (block, header.read(), header.add(1).read() != 0)
    }
}

extern "C" fn hook_malloc(ctx: *mut c_void, size: usize) -> *mut c_void {
    let inner = inner(ctx);
    let (Some(malloc), Some(total)) = (inner.malloc, size.checked_add(HEADER)) else {
        return std::ptr::null_mut();
    };
    finish(malloc(inner.ctx, total), size, small(size))
}

extern "C" fn hook_calloc(ctx: *mut c_void, nelem: usize, elsize: usize) -> *mut c_void {
    let inner = inner(ctx);
    let size = nelem.checked_mul(elsize);
    let (Some(calloc), Some(size)) = (inner.calloc, size) else {
        return std::ptr::null_mut();
    };
    let Some(total) = size.checked_add(HEADER) else {
        return std::ptr::null_mut();
    };
    finish(calloc(inner.ctx, 1, total), size, small(size))
}

extern "C" fn hook_realloc(ctx: *mut c_void, ptr: *mut c_void, size: usize) -> *mut c_void {
    if ptr.is_null() {
        return hook_malloc(ctx, size);
    }
    let inner = inner(ctx);
    let (Some(realloc), Some(total)) = (inner.realloc, size.checked_add(HEADER)) else {
        return std::ptr::null_mut();
    };
    let (block, old, counted) = block_of(ptr);
    let moved = realloc(inner.ctx, block, total);
    if moved.is_null() {
        return moved; // the old block is still the caller's
    }
    count(old, counted, -1);
    // pymalloc hands a block that outgrows it to malloc, but keeps a block
    // malloc served there even when it shrinks.
    finish(moved, size, counted && small(size))
}

extern "C" fn hook_free(ctx: *mut c_void, ptr: *mut c_void) {
    if ptr.is_null() {
        return;
    }
    let inner = inner(ctx);
    let (block, size, counted) = block_of(ptr);
    count(size, counted, -1);
    if let Some(free) = inner.free {
        free(inner.ctx, block);
    }
}
