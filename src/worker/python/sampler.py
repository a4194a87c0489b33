"""Clears the interpreter's own caches and reads the counters between runs.

What this module does must not show up in what it measures: it keeps no state
that grows, and every object it creates is gone before the next sample.
The list of caches follows CPython's refleak hunter (Lib/test/libregrtest).
"""

import gc
import os
import sys
import tracemalloc
import weakref

import _leakhunt_common as common


def _clear_ctypes(ctypes):
    """Empties what ctypes._reset_cache() empties, but keeps the two pointer
    types it would make again, POINTER(c_wchar) and POINTER(c_char).

    Each call of _reset_cache() made a new pair (6 KB) and dropped the pair
    the call before made, which only a collection frees: the heap's bytes
    then moved by 16 to 1,936 bytes from one clearing to the next on their
    own (the pair's size varies, and so does its base class's table of
    subclasses as it fills with dead ones and is resized). The judged runs'
    baseline, the first clearing after the freeze, dropped a frozen pair
    that stayed, so it counted differently again. A list growing by 32 bytes
    in place then read flat in the worker once the diagnosis of an earlier
    leak had imported ctypes.
    """
    pointers = ctypes._pointer_type_cache
    wchar = pointers.get(ctypes.c_wchar)
    char = pointers.get(ctypes.c_char)
    if wchar is None or char is None:  # a test emptied the cache itself
        ctypes._reset_cache()
        return
    # The same three entries, in the same order, every time: the same bytes.
    pointers.clear()
    pointers[ctypes.c_wchar] = wchar
    pointers[ctypes.c_char] = char
    pointers[None] = ctypes.c_void_p
    ctypes._c_functype_cache.clear()
    windows = getattr(ctypes, "_win_functype_cache", None)
    if windows is not None:
        windows.clear()


def _clear_regex(main):
    """What the regex package caches of the patterns it compiled: purge()
    leaves the keyword arguments each pattern needs, kept under a key of its
    own (the pattern's text, type and flags), and the replacement templates."""
    with main._cache_lock:
        main._cache.clear()
        main._locale_sensitive.clear()
        main._named_args.clear()
        main._replacement_cache.clear()


_MODULE_CACHES = (
    ("re", lambda m: m.purge()),
    # The regex package, as re: up to 500 patterns (a new one each run read
    # as a leak of +3 objects a run until the cache was full).
    ("regex._main", _clear_regex),
    ("linecache", lambda m: m.clearcache()),
    ("_strptime", lambda m: m._regex_cache.clear()),
    ("urllib.parse", lambda m: m.clear_cache()),
    ("urllib.request", lambda m: m.urlcleanup()),
    ("mimetypes", lambda m: m._default_mime_types()),
    ("filecmp", lambda m: m._cache.clear()),
    ("struct", lambda m: m._clearcache()),
    ("ctypes", _clear_ctypes),
    ("fnmatch", lambda m: m._compile_pattern.cache_clear()),
    # Hypothesis keeps up to 1024 strategies it built (an LRU): a state
    # machine builds new ones for every example, about 32 objects each.
    ("hypothesis.strategies._internal.utils", lambda m: m.clear_strategy_cache()),
    # And a coverage tag for every label it meets, without bound: a strategy
    # made anew in each example (attrs's make_class, a sampled_from over new
    # values) has a new label, +14 objects a run in attrs's own suite.
    ("hypothesis.internal.conjecture.data", lambda m: m.STRUCTURAL_COVERAGE_CACHE.clear()),
)


# The statement caches of the sqlite3 connections alive when a heap was
# frozen: a connection cannot be weakly referred to, its cache (an
# lru_cache that refers to it) can.
_statement_caches = weakref.WeakSet()


def _find_sqlite_connections():
    """Notes the statement cache of each sqlite3 connection the gc walks (the
    frozen heap it does not: those were found when it was frozen). From 3.11
    on, where the cache is an lru_cache."""
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is None:
        return
    kinds = [sqlite3.Connection]
    for kind in kinds:
        kinds.extend(type.__subclasses__(kind))
    for obj in gc.get_referrers(*kinds):
        if issubclass(type(obj), sqlite3.Connection):
            for part in gc.get_referents(obj):
                if type(part) is common.LRU_CACHE and getattr(part, "__wrapped__", None) is obj:
                    _statement_caches.add(part)


def _clear_sqlite():
    """Empties what a sqlite3 connection keeps of its past statements and
    cursors: its statement cache, which a statement it never saw before
    (Django's savepoints are named by a counter) fills one entry at a time
    and then renews, and the weak references to its cursors (and blobs),
    of which it sweeps the dead only once in 200 cursors. Every test of a
    Django TestCase on SQLite was LEAKED at +4 to +7 objects a run."""
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is None:
        return
    owned = (sqlite3.Cursor, getattr(sqlite3, "Blob", sqlite3.Cursor))
    for cache in list(_statement_caches):
        cache.cache_clear()
        for part in gc.get_referents(cache.__wrapped__):
            if type(part) is list and all(_refers_to(ref, owned) for ref in part):
                part[:] = [ref for ref in part if ref() is not None]


def _refers_to(ref, kinds):
    """A weak reference to an object of `kinds`, or a dead one."""
    if type(ref) is not weakref.ReferenceType:
        return False
    obj = ref()
    return obj is None or issubclass(type(obj), kinds)


def _compact_threading():
    """Rebuilds threading's tables of threads at the size of what they hold:
    `_active` and `_limbo` (dicts), `_dangling` (a WeakSet) and, before
    3.13, `_shutdown_locks` (a set, less the locks of threads that ended).
    They grow to fit the most threads alive at once and shrink only when a
    later thread's start finds enough dead entries, so after a run their
    size depends on the runs before: idna's thread-pool test (8 threads,
    0.38 s a run) read bytes moving by 500 to 1,400 with nothing kept, and
    ran 12 to 32 times where a flat test runs 5. After the collection: what
    it frees leaves them first. A test that replaced them (a mock, gevent's
    patching) gets them left alone, and so does one that holds their lock
    in another thread (not waited for: that would hang the sampler)."""
    threading = sys.modules.get("threading")
    if threading is None:
        return
    try:
        dangling = threading._dangling
        if not dangling._pending_removals and not dangling._iterating:
            _rebuild(dangling.data)
        _rebuild_under(threading._active_limbo_lock, threading._active, threading._limbo)
        locks = getattr(threading, "_shutdown_locks", None)
        if locks is not None:
            _rebuild_under(
                threading._shutdown_locks_lock, locks, before=threading._maintain_shutdown_locks
            )
    except Exception:
        pass


def _rebuild_under(lock, *tables, before=None):
    if lock.acquire(blocking=False):
        try:
            if before is not None:
                before()
            for table in tables:
                _rebuild(table)
        finally:
            lock.release()


def _rebuild(table):
    """The set or dict `table` emptied, its hash table freed, and filled
    again: a table sized for what it holds, whatever it held before."""
    kept = table.copy()
    table.clear()
    table.update(kept)


# Bound when the sampler loads: a test that replaces gc.collect or
# gc.get_objects, and does not put them back, must not blind the samples of
# every test after it.
_collect = gc.collect
_get_objects = gc.get_objects


def start():
    """Lists the abstract base classes once."""
    import collections.abc
    import inspect

    global _abstract_classes
    _abstract_classes = [
        cls
        for cls in (getattr(collections.abc, name) for name in collections.abc.__all__)
        if inspect.isabstract(cls)
    ]


_abstract_classes = []


def _clear_caches():
    # No copies, no exceptions, no temporary lists where a loop will do.
    # Unlike CPython's refleak hunter, the modules' __warningregistry__ are
    # left alone: the warnings module empties a registry at its next warning
    # whenever the filters changed, and the ResourceWarning watcher changes
    # them at the start of every run (resource_warnings.begin). Walking every module
    # for them cost 300 us a sample under pytest.
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is not None:
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
    for name, clear in _MODULE_CACHES:
        module = sys.modules.get(name)
        if module is not None:
            try:
                clear(module)
            except Exception:
                pass
    typing = sys.modules.get("typing")
    if typing is not None:
        for cleanup in typing._cleanups:
            cleanup()
    if _statement_caches:
        try:
            _clear_sqlite()
        except Exception:
            pass
    for abc in _abstract_classes:
        abc._abc_caches_clear()
        for cls in abc.__subclasses__():
            cls._abc_caches_clear()
    namespace = sys.__dict__
    for name in ("last_type", "last_value", "last_traceback"):
        if name in namespace:
            del namespace[name]
    sys._clear_type_cache()


def sample(clear, blocks):
    """The gc-tracked objects after a full collection, and after clearing the
    interpreter's caches when `clear`; the allocated blocks when `blocks`,
    else 0 (Rust counts them itself) (harness::Counters)."""
    if clear:
        _clear_caches()
    _collect()
    if clear:
        _compact_threading()
    return {
        "objects": len(_get_objects()),
        "blocks": sys.getallocatedblocks() if blocks else 0,
    }


def freeze():
    """Moves everything alive into the permanent generation.

    Later collections and gc.get_objects() then only see what the judged runs
    create, which makes each sample cost microseconds instead of a heap walk.
    The caches are cleared by the judged runs' baseline (Sampler::freeze).
    """
    _collect()
    _find_sqlite_connections()
    gc.freeze()


def unfreeze():
    gc.unfreeze()


def thaw():
    """freeze() with nothing frozen: later samples count the whole heap, so a
    full bounded cache whose new entries take the place of older ones stays
    level (frozen, the older ones were never counted and the new ones were)."""
    gc.unfreeze()
    _collect()
    _find_sqlite_connections()


_saved_cwd = None
_saved_path = None
_saved_gc_debug = 0


def remember():
    """Notes the working directory, sys.path and the gc's debugging flags
    that every test starts from."""
    global _saved_cwd, _saved_path, _saved_gc_debug
    _saved_cwd = os.getcwd()
    _saved_path = list(sys.path)
    _saved_gc_debug = gc.get_debug()


def stop():
    """Hands the heap back to the gc once every test is done."""
    gc.unfreeze()


def restore():
    """Undoes what an earlier test may have done to the process and to the
    measurement itself."""
    if not gc.isenabled():
        gc.enable()
    # Under DEBUG_SAVEALL the gc keeps every cycle it finds in gc.garbage:
    # each later test that makes one would seem to leak it.
    if gc.get_debug() != _saved_gc_debug:
        gc.set_debug(_saved_gc_debug)
    # Tracing slows every allocation 2-4 times and the counters do not need
    # it: only the diagnosis turns it on, for itself.
    if tracemalloc.is_tracing():
        tracemalloc.stop()
    if _saved_cwd is not None:
        try:
            moved = os.getcwd() != _saved_cwd
        except OSError:  # the test removed the folder it moved into
            moved = True
        if moved:
            os.chdir(_saved_cwd)
    if _saved_path is not None and sys.path != _saved_path:
        sys.path[:] = _saved_path


def flush_output():
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            try:
                stream.flush()
            except (OSError, ValueError):
                pass


_stack_file = None


def dump_stack_on(signum, path):
    """On `signum`, write every thread's Python stack to `path`: what a test
    that hangs was doing when the supervisor ran out of patience."""
    import faulthandler

    global _stack_file
    # Open for the worker's whole life: faulthandler writes to it on the signal.
    _stack_file = open(path, "w")  # noqa: SIM115
    faulthandler.register(signum, file=_stack_file, all_threads=True)
