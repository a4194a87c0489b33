"""The diagnosis pass, inside the interpreter: snapshots, census, referrer chains.

Only for tests already flagged as leaking. Rust runs the test between calls to
point() and decides what of this is worth showing; this module only gathers.

Two rules shape it:
- It looks only at what the diagnosis runs made. The heap is frozen when the
  pass begins, so gc.get_objects() lists only objects made since, and
  tracemalloc restarts, so only their allocations are traced. An object counts
  only when a frame of the user's code made it: pytest's and leakhunt's own
  per-run state never does.
- It never runs the objects' code: no getattr, repr or len on a user object.
  Attributes are read from the types' own dictionaries and C descriptors.
"""

import builtins
import contextlib
import contextvars
import gc
import io
import itertools
import operator
import os
import select
import socket
import sys
import threading
import time
import tracemalloc
import types
import weakref

import _leakhunt_common as common

_OWN_FILES = (
    "<leakhunt _leakhunt_common>",
    "<leakhunt _leakhunt_diagnosis>",
    "<leakhunt _leakhunt_sampler>",
    "<leakhunt _leakhunt_resource_warnings>",
)
# Containers whose size is compared before and after, for leaks that grow an
# existing object in place. Exact builtins only: their len() is C code.
_SIZED = (list, dict, set, bytearray)
_MAX_VISITED = 400
# References followed up from an object. An exception kept in a global and
# raised every run grows its traceback by two entries a run: the object that
# stands for a type (one the pass's second run made) was 11 references down.
_MAX_DEPTH = 16
# Objects whose referrers one level of the search asks for at once, per chain.
_MAX_FRONTIER = 40
# Types whose attributes are C code: reading them runs nothing of the user's.
_BUILTIN_OWNERS = (
    types.FunctionType,
    types.MethodType,
    types.BuiltinFunctionType,
    types.TracebackType,
    types.GeneratorType,
    types.CoroutineType,
    types.AsyncGeneratorType,
    types.CellType,
    types.FrameType,
    types.CodeType,
    types.ModuleType,
    property,
    staticmethod,
    classmethod,
)

_state = {}
# Per chain the last call of chains() found: the bounded lru_caches it goes
# through, made before the runs (None: no root was found). Kept past end():
# the runner fills them after the pass (cache_fill.rs).
_chain_caches = []
# Folders of the standard library and site-packages: frames there are not the user's.
_library = ()
# Test files inside those folders: the user's (a package's tests run installed).
_tests = frozenset()


# Py_TPFLAGS_MANAGED_DICT: 3.11's tracemalloc.get_object_traceback() misses
# instances of such classes (their memory starts before the object header).
_MANAGED_DICT = 1 << 4


def _block_traceback_reader():
    """On 3.11, tracemalloc's lookup of a memory block by its address (C's
    _PyTraceMalloc_GetTraceback): an instance of a class with a managed dict
    starts two pointers before its gc header, where get_object_traceback()
    does not look (3.12 looks there). None on other versions."""
    if sys.version_info[:2] != (3, 11):
        return None
    import ctypes

    try:
        read = ctypes.pythonapi._PyTraceMalloc_GetTraceback
    except AttributeError:
        return None
    read.restype = ctypes.py_object
    read.argtypes = (ctypes.c_uint, ctypes.c_size_t)
    # The managed dict's two pointers, then the gc header's two.
    return read, 4 * ctypes.sizeof(ctypes.c_void_p)


_BLOCK_TRACEBACK = _block_traceback_reader()


def _object_traceback(obj):
    """tracemalloc.get_object_traceback(obj), also for an instance of a class
    with a managed dict on 3.11."""
    tb = tracemalloc.get_object_traceback(obj)
    if tb is None and _BLOCK_TRACEBACK is not None and _FLAGS(type(obj)) & _MANAGED_DICT:
        read, before = _BLOCK_TRACEBACK
        frames = read(0, id(obj) - before)
        if frames is not None:
            tb = tracemalloc.Traceback(frames)
    return tb


# type's own C descriptors: reading a class through them runs no metaclass code.
_MRO = type.__dict__["__mro__"].__get__
_DICT = type.__dict__["__dict__"].__get__
_MODULE_OF = type.__dict__["__module__"].__get__
_QUALNAME = type.__dict__["__qualname__"].__get__
_WEAKREF_OFFSET = type.__dict__["__weakrefoffset__"].__get__
_FLAGS = type.__dict__["__flags__"].__get__


def _module_of(cls):
    """A class's __module__ as type's own descriptor reads it, when it is a
    str; None when it is not, or when the class's namespace has none (C code
    can make such a class: msgspec's half-built Structs)."""
    try:
        module = _MODULE_OF(cls)
    except AttributeError:
        return None
    return module if type(module) is str else None


# Py_TPFLAGS_HEAPTYPE: a class made by a class statement or type(), not C's.
_HEAP_TYPE = 1 << 9


def _named_by_its_module(cls, module):
    """A class its module holds under its qualified name, or one defined in
    C: those live as long as the interpreter. A class made at run time
    (unittest.mock makes one per MagicMock, `MagicMock` in
    `unittest.mock`) or in a function is held by what refers to it."""
    if not _FLAGS(cls) & _HEAP_TYPE:
        return True
    holder = sys.modules.get(module)
    for name in _QUALNAME(cls).split("."):
        namespace = _namespace(holder) if type(holder) is types.ModuleType else None
        if namespace is None and issubclass(type(holder), type):
            namespace = _DICT(holder)
        if namespace is None or name not in namespace:
            return False
        holder = namespace[name]
    return holder is cls


def _mro(cls):
    """The classes `cls` looks names up in; none for a class the gc cleared
    and never freed (one that is its own type, as h11's sentinels are)."""
    return _MRO(cls) or ()


def _static(cls, name, default=None):
    """`name` as the class `cls` defines it (or a base), without running a
    metaclass's __getattr__ or any descriptor."""
    for klass in _mro(cls):
        namespace = _DICT(klass)
        if name in namespace:
            return namespace[name]
    return default


def _namespace(obj):
    """The instance dictionary of obj, read through the C descriptor of its
    class's __dict__ (never a property a class defines), or None."""
    descriptor = _static(type(obj), "__dict__")
    if type(descriptor) not in (types.GetSetDescriptorType, types.MemberDescriptorType):
        return None
    try:
        namespace = descriptor.__get__(obj, type(obj))
    except Exception:
        return None
    return namespace if type(namespace) is dict else None


def _traceback(obj):
    """Where obj was allocated; for an instance that cannot be looked up,
    where the first of its attributes was (its __init__ made them)."""
    tb = _object_traceback(obj)
    if tb is None and _FLAGS(type(obj)) & _MANAGED_DICT:
        # Its referents are its attributes: no dict is made for them.
        for value in gc.get_referents(obj):
            if type(value) is dict:  # its __dict__, once something asked for it
                for inner in value.values():
                    tb = tracemalloc.get_object_traceback(inner)
                    if tb is not None:
                        return tb
            tb = tracemalloc.get_object_traceback(value)
            if tb is not None:
                break
    return tb


def _is_user_file(filename):
    if filename in _tests:
        return True
    if filename.startswith("<"):
        return filename in ("<string>", "<stdin>")
    if "/site-packages/" in filename or "/dist-packages/" in filename:
        return False
    return not filename.startswith(_library)


def _made_by_user(obj, verdicts):
    """Made during the pass, by a frame of the user's code, not by leakhunt.
    `verdicts` caches the answer per traceback (there are few). Only called
    on objects made since begin() (unfrozen ones) and their referents."""
    cls = type(obj)
    # An instance of one of the user's classes with a managed dict is the
    # user's, decided per class first: every lookup allocates, allocations
    # are slow under deep tracing, and 3.11's takes a C call. One of another
    # class that cannot be looked up is looked up by its attributes.
    by_class = verdicts.get(cls, verdicts)
    if by_class is verdicts:
        by_class = verdicts[cls] = _class_verdict(cls)
    if by_class is True:
        return True
    tb = _object_traceback(obj)
    if tb is None and by_class is False:
        for value in gc.get_referents(obj):
            tb = tracemalloc.get_object_traceback(value)
            if tb is not None:
                break
    if tb is None:
        return False
    key = tb._frames if hasattr(tb, "_frames") else tuple(tb)
    verdict = verdicts.get(key)
    if verdict is None:
        files = [frame.filename for frame in tb]  # outermost first
        own = any(name in _OWN_FILES for name in files)
        verdict = verdicts[key] = not own and any(
            _user_frame(files, at) for at in range(len(files))
        )
    return verdict


def _user_frame(files, at):
    """Whether frame `at` of a traceback (outermost first) is the user's. Code
    run from a string (a dataclass's __init__) is the user's only when what
    ran it is: pytest's CallInfo and Instant are dataclasses."""
    if not _is_user_file(files[at]):
        return False
    if files[at] != "<string>":
        return True
    callers = [name for name in files[:at] if name != "<string>"]
    return not callers or _is_user_file(callers[-1])


def _class_verdict(cls):
    """True: an instance made since begin() is the user's for sure (its class
    has a managed dict and is the user's, or names a module never imported:
    only a test's own class does, and the instance of one without attributes
    has nothing else to be looked up by); False: a managed-dict class of a
    library's (look it up by its attributes); None: look it up."""
    if not _FLAGS(cls) & _MANAGED_DICT:
        return None
    module = sys.modules.get(_module_of(cls))
    if module is None:
        return True
    path = (_namespace(module) or {}).get("__file__")
    return type(path) is str and _is_user_file(path)


def type_name(cls):
    module = _module_of(cls)
    qualname = _QUALNAME(cls)
    if module is None or module == "builtins":
        return _cut(qualname)
    return _cut(f"{module}.{qualname}")


# A test chooses its names (a class's __qualname__ and __module__, a thread's
# name, an attribute's): one of 10 MB made every report line it was on, and
# every line of the same cause, 10 MB long.
_NAME_CHARS = 200


def _cut(name):
    """A name as the diagnosis reports it: at most _NAME_CHARS characters."""
    return name if len(name) <= _NAME_CHARS else name[: _NAME_CHARS - 3] + "..."


def _sites():
    """{traceback (innermost frame first): [bytes, blocks]} of what is traced now.

    From the raw traces: Snapshot.filter_traces() and statistics() cost
    tens of microseconds a trace in Python, seconds on a big leak.
    """
    sites = {}
    own = set()
    for _, size, tb, _ in tracemalloc._get_traces():
        row = sites.get(tb)
        if row is None:
            if tb in own:
                continue
            if any(frame[0] in _OWN_FILES for frame in tb):
                own.add(tb)
                continue
            row = sites[tb] = [0, 0]
        row[0] += size
        row[1] += 1
    return sites


def _sizes():
    """Sizes of every builtin container alive: a walk of the whole heap, done
    once, and only for a leak that made no new objects."""
    objects = gc.get_objects()
    sizes = {id(obj): (obj, _size(obj)) for obj in objects if type(obj) in _SIZED}
    # bytearrays are not gc-tracked, nor are dicts of strings and numbers (a
    # class's cache of strings, an lru_cache's of them): found in the
    # namespaces, lists and lru_caches that hold them.
    holders = [obj for obj in objects if type(obj) in (dict, list, common.LRU_CACHE)]
    del objects
    for ref in gc.get_referents(*holders):
        if type(ref) is bytearray or (type(ref) is dict and not gc.is_tracked(ref)):
            sizes[id(ref)] = (ref, _size(ref))
    return sizes


def _size(obj):
    # A list's buffer grows in jumps, its length every run: compare both.
    return sys.getsizeof(obj), len(obj)


def _sizeof(obj, builtin={}):  # noqa: B006 - a memo per type, kept on purpose
    """sys.getsizeof(obj) when its type's __sizeof__ is C code; else the size
    of the object itself, without calling a __sizeof__ of the user's."""
    cls = type(obj)
    if cls not in builtin:
        builtin[cls] = type(_static(cls, "__sizeof__")) in (
            types.MethodDescriptorType,
            types.WrapperDescriptorType,
        )
    if builtin[cls]:
        return sys.getsizeof(obj)
    return object.__sizeof__(obj) + (_GC_HEADER if gc.is_tracked(obj) else 0)


_GC_HEADER = sys.getsizeof([]) - [].__sizeof__()


def _audit(event, args):
    """Notes where descriptors are opened, during a diagnosis only (installed
    once: audit hooks cannot be removed, so it is a no-op outside a pass)."""
    opened = _state.get("opened")
    if opened is None or event not in ("open", "os.open", "socket.__new__"):
        return
    stack = common.stack(sys._getframe(1))
    # Not the event's name: that string is new and was made on the user's line.
    is_socket = event == "socket.__new__"
    path = args[0] if not is_socket and args else None
    # A new string, made here: keeping the caller's would keep what the
    # user's line made, one a run (tempfile.mkstemp's name: +65 B, +1 block
    # a run "where it was allocated", and a missing Py_DECREF blamed for a
    # descriptor left open).
    try:
        path = os.path.abspath(os.fsdecode(path)) if type(path) in (str, bytes) else None
    except OSError:  # a relative path, and the working folder is gone
        path = None
    opened.append((is_socket, path, stack))


sys.addaudithook(_audit)


def _at_fork():
    """Does nothing: it marks the interpreter's lists of fork callbacks, held
    in its C state, so that the search can name them (opentelemetry's
    TracerProvider registers one per provider, and it read "a missing
    Py_DECREF")."""


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_at_fork, after_in_parent=_at_fork, after_in_child=_at_fork)


def begin(nframes, in_place, native, library, tests, budget):
    """Freezes what exists, restarts tracemalloc with deep tracebacks and
    takes the first point. `library`: folders whose frames are not the user's;
    `tests`: test files in those folders, which are.
    `native`: only resident memory grew, so watch malloc around the user's lines."""
    global _library, _tests
    _library = tuple(library)
    _tests = frozenset(tests)
    tracemalloc.stop()
    _state.clear()
    _chain_caches.clear()
    _state["deadline"] = time.monotonic() + budget
    _state["threads"] = {t.ident for t in threading.enumerate()}
    _state["modules"] = _loaded_modules()
    if in_place:
        # Heap walks first, untraced: tracing every allocation 25 frames deep is slow.
        gc.unfreeze()
        gc.collect()
        _state["sizes"] = _sizes()
    else:
        gc.collect()
        _state["sizes"] = None
    gc.freeze()
    _state["opened"] = []
    # After the sizes and untraced: its own list is no container that grows.
    _watch_atexit()
    tracemalloc.start(nframes)
    # Made traced (no free list serves a bytearray, as one does a list): a
    # test that stops or restarts tracemalloc (msgpack's do) loses it its
    # traceback, and the pass its traces.
    _state["traced"] = (nframes, bytearray(8))
    _state["points"] = [_sites()]
    if native:
        _watch_malloc()


@contextlib.contextmanager
def _collector_off():
    """The automatic collector off meanwhile, as it was after: every young
    collection would walk all the objects the runs made, over and over."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def point(sites):
    """After one run (and the sampler's collection). `sites`: snapshot the
    traces (a pass over every trace, its allocations traced deep and slow:
    every other run is enough to tell steady growth)."""
    _state["sites taken"] = sites
    if not _still_traced():
        _state["tracing lost"] = True
    if sites and not _state.get("tracing lost"):
        _state["points"].append(_sites())
    # Which objects the pass's first two runs left alive (ids only): what the
    # second made and every later run left is the leak, where the last
    # run's objects may still be held only for now (the global a test
    # rebinds each run).
    runs = _state["runs"] = _state.get("runs", 0) + 1
    if runs <= 2:
        _state[f"alive after run {runs}"], _state[f"references after run {runs}"] = _alive()
    if runs == 2 and _state["sizes"] is not None:
        _state["sizes after run 2"] = {key: _size(obj) for key, (obj, _) in _state["sizes"].items()}
    if runs == 2:
        with _collector_off():
            census = _made_census(gc.get_objects())[0]
            _state["census after run 2"] = {
                cls: (count, size) for cls, (count, size, *_) in census.items()
            }
            del census


def _alive():
    """The ids of the objects alive now (not frozen), and their weak
    references (_weak_references), from one walk of the heap."""
    objects = gc.get_objects()
    return {id(obj) for obj in objects}, _weak_references(objects)


def _weak_references(objects):
    """id -> a weak reference, for each of `objects` whose type allows one.
    An id alone passes an object made later at an address one of these
    freed: blockbuster swaps its wrapper functions every run, and one of
    them stood for the functions that grow (starlette's suite, 30 leaks;
    fixtures/reused_address)."""
    refs = {}
    for obj in objects:
        if _WEAKREF_OFFSET(type(obj)):
            try:
                refs[id(obj)] = weakref.ref(obj)
            except TypeError:
                pass
    return refs


def _among(refs, obj):
    """Whether `obj` is the object `refs` (_weak_references) has under its id."""
    ref = refs.get(id(obj))
    return ref is not None and ref() is obj


def _still_traced():
    """Whether tracing is as begin() started it, traces and all."""
    nframes, made_traced = _state["traced"]
    return (
        tracemalloc.is_tracing()
        and tracemalloc.get_traceback_limit() == nframes
        and tracemalloc.get_object_traceback(made_traced) is not None
    )


def peek(untracked, roots):
    """What a check compares with the known causes: [(type name, count,
    bytes)] of the types of which the runs so far left two objects or more
    alive that the user's code made (`untracked`: also the objects the gc
    does not track among their referents), and for each of `roots` (module,
    global, depth, type name) whether its objects of that type may be held
    there (False only when none is within `depth` referents of that global).
    It changes nothing: tracing, the frozen heap and the points stay as they
    are, so the pass goes on from here."""
    with _collector_off():
        verdicts = {}
        made = _user_made(gc.get_objects(), verdicts)
        if untracked:
            made.extend(_untracked(made, verdicts))
        # Counted per type without a step per object: every allocation is
        # traced deep and slow, so the bytes are estimated from a few of them.
        census = {}
        for cls, group in _by_type(made).items():
            if type(group[0]) in (tuple, dict) or not gc.is_tracked(group[0]):
                # Untracked objects may be found twice, through two holders.
                group = list({id(obj): obj for obj in group}.values())
            sample = group[:: max(1, len(group) // 8)][:8]
            size = sum(_sizeof(obj) for obj in sample) * len(group) // len(sample)
            census[cls] = (len(group), size, None)
        rows = [
            (type_name(cls), count, size) for cls, (count, size, _) in census.items() if count >= 2
        ]
        # Only a cause whose largest type is the largest here may be theirs
        # (the order of the census in Rust): only its global is walked.
        rows.sort(key=lambda row: (-row[2], -row[1], row[0]))
        largest = rows[0][0] if rows else None
        reached = []
        for module, global_, depth, name in roots:
            if name != largest:
                reached.append(False)
                continue
            cls = next(cls for cls in census if type_name(cls) == name)
            of_type = [obj for obj in made if type(obj) is cls]
            # A few of them, spread over the runs: a global that holds the
            # objects of a cause holds each of them.
            step = max(1, len(of_type) // _REACH_TARGETS)
            targets = of_type[::step][:_REACH_TARGETS]
            del of_type
            reached.append(_reaches(module, global_, depth, targets))
        del made, census
        return rows, reached


# Objects a walk from a global visits at most; past them, it may hold them.
_MAX_REACH = 50000
# Objects looked for in that walk.
_REACH_TARGETS = 8


def _module_namespace(name):
    """The namespace of the module `name`, read without running its code;
    None when there is no such module."""
    module = sys.modules.get(name)
    if module is None or not issubclass(type(module), types.ModuleType):
        return None
    return _namespace(module)


def _loaded_modules():
    """Weak references to the modules loaded now: a module of that name
    made again later is another one (a test that makes a module every run)."""
    modules = list(sys.modules.values())
    return _weak_references([m for m in modules if issubclass(type(m), types.ModuleType)])


def _made_modules():
    """The names of the modules in sys.modules that the pass's runs made."""
    before = _state.get("modules", {})
    return {
        name
        for name, module in list(sys.modules.items())
        if issubclass(type(module), types.ModuleType) and not _among(before, module)
    }


def _namespaces():
    """[(name, namespace)] of every module loaded."""
    found = []
    for name, module in list(sys.modules.items()):
        namespace = _namespace(module) if issubclass(type(module), types.ModuleType) else None
        if namespace is not None:
            found.append((name, namespace))
    return found


def _reaches(module_name, global_, depth, targets):
    """May the global `global_` (`NAME` or `Class.attribute`) of the module
    hold one of `targets` within `depth` steps of referents? False only when
    it surely does not: the walk finished without meeting one. Under deep
    tracing every allocation is slow: the walk compares by identity and
    keeps no set of what it saw (only lists of each step)."""
    namespace = _module_namespace(module_name)
    name, _, attribute = global_.partition(".")
    if namespace is None or name not in namespace:
        return True
    start = namespace[name]
    if attribute:
        if not issubclass(type(start), type):
            return True
        start = _static(start, attribute, _NOTHING)
        if start is _NOTHING:
            return True
    frontier = [start]
    visited = 0
    for _ in range(depth):
        following = gc.get_referents(*frontier)
        visited += len(following)
        # Past the budget the answer is "may hold" whatever the step meets:
        # compared first, a step through module namespaces (a million
        # objects) cost a sixth of a worker on click's suite.
        if visited > _MAX_REACH:
            return True
        # In C, with no new object a step: `for target in targets` made an
        # iterator, a traced allocation, for each object met (120,000 objects
        # traced 25 frames deep: 0.26 s, 0.02 s this way).
        for target in targets:
            if any(map(operator.is_, following, itertools.repeat(target))):
                return True
        frontier = following
        if not frontier:
            return False
    return False


def _by_type(objects):
    """{type: [its objects, in order]}."""
    groups = {}
    for obj in objects:
        group = groups.get(type(obj))
        if group is None:
            group = groups[type(obj)] = []
        group.append(obj)
    return groups


def _user_made(objects, verdicts):
    """The objects of `objects` that the user's code made. Under deep tracing
    every allocation is slow, and a traceback lookup makes dozens: a type with
    many objects is judged on a sample of them when the sample agrees. Not a
    few hundred: a sample of 32 misses a minority of a sixth one time in
    500 (a set holding the 60 tuples of the pass among 280 older ones: the
    leak's census came out empty once in CI)."""
    made = []
    for group in _by_type(objects).values():
        if len(group) > _SAMPLED_FROM:
            step = len(group) // _SAMPLE
            votes = {_made_by_user(group[i * step], verdicts) for i in range(_SAMPLE)}
            if len(votes) == 1:
                if votes.pop():
                    made.extend(group)
                continue
        made.extend(obj for obj in group if _made_by_user(obj, verdicts))
    return made


_SAMPLE = 32
_SAMPLED_FROM = 2000


def _referents(objects):
    """gc.get_referents(*objects), with the keys of the untracked dicts among
    them: the gc does not visit a dict's keys when they are all strings,
    which cannot be part of a cycle (an lru_cache's dict of names, Babel's
    localedata.exists, gained a key a run that nothing seemed to hold). Not
    a tracked dict's: gc.get_referrers, which the search climbs by, cannot
    see them either, and a key counted there had no chain."""
    # One call for all referents: a list per object would be slow.
    found = gc.get_referents(*objects)
    found.extend(
        key for obj in objects if type(obj) is dict and not gc.is_tracked(obj) for key in obj
    )
    return found


def _new_untracked(objects):
    """The untracked objects of `objects` tracemalloc saw made, during the
    pass: _user_made judges a large group by a sample, and the keys a cache
    gained a run were a few among tens of thousands made before (Babel's
    localedata.exists, after another test filled it), which it judged by
    the old ones. A lookup that finds nothing allocates nothing."""
    traced = tracemalloc._get_object_traceback
    return [obj for obj in objects if not gc.is_tracked(obj) and traced(obj) is not None]


def _untracked(holders, verdicts):
    """The untracked objects the user's code made that `holders` refer to
    (through untracked tuples and dicts too)."""
    found = _user_made(_new_untracked(_referents(holders)), verdicts)
    todo = [obj for obj in found if type(obj) in (tuple, dict)]
    while todo:
        inner = _user_made(_new_untracked(_referents(todo)), verdicts)
        found.extend(inner)
        todo = [obj for obj in inner if type(obj) in (tuple, dict)]
    return found


def _made_census(alive):
    """The census of what the runs so far made and left alive (of `alive`,
    the unfrozen objects), with the untracked objects they made that those
    and the containers alive before that have more items now refer to; and
    the made and the untracked objects."""
    verdicts = {}
    made = _user_made(alive, verdicts)
    # Their len() only while tracing: sizes above 256 are new ints, each a
    # slow traced allocation.
    longer = [obj for obj, before in (_state["sizes"] or {}).values() if len(obj) > before[1]]
    untracked = _untracked(made + longer, verdicts)
    # A context's mapping is CPython's storage for the variables set in it,
    # as a dict's table is: what the user set is what grows, not its nodes.
    storage = {kind for kind in set(map(type, made)) if _is_hamt_type(kind)}
    if storage:
        made = [obj for obj in made if type(obj) not in storage]
    return _census(made + untracked), made, untracked


def _census(objects):
    """(type -> [count, bytes, first object, [(bytes, object)] of _BULK
    types, else None]) of `objects`, each counted once."""
    found = {}
    seen = set()
    for obj in objects:
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        kind = type(obj)
        row = found.get(kind)
        if row is None:
            row = found[kind] = [0, 0, obj, [] if kind in _BULK else None]
        size = _sizeof(obj)
        row[0] += 1
        row[1] += size
        if row[3] is not None:
            row[3].append((size, obj))
    return found


# Types whose bytes may lie in a few large objects among many small ones.
_BULK = (str, bytes)


def _standing_in_census(cls, row, made_standing):
    """The object that stands for `cls` in the chains: for strings and
    bytes, the largest when it is four times their median size or more (a
    module's 60 KB string beside the short names its loader keeps: the
    chain went to a file name's parts, in pydantic's test_help); else the
    made object that stands for its type, else the first."""
    _, _, first, sized = row
    if sized:
        size, largest = max(sized, key=operator.itemgetter(0))
        median = sorted(size for size, _ in sized)[len(sized) // 2]
        if size >= 4 * median:
            return largest
    return made_standing.get(cls, first)


def _grown_containers():
    """[(container, (size, len) before)] of the containers alive at begin()
    that grew since, and since the pass's second run when it had more: what
    grew only in the first runs is the pass's own doing (the modules it
    imports, the weak registries of what it makes), and came before the
    leak in the ranking (pyasn1's `debug.scope._list`, one entry a run, was
    fifth, under sys.modules and three dicts of weak references, and the
    leak was called native)."""
    sizes = _state["sizes"]
    if sizes is None:
        return []
    later = _state.get("sizes after run 2", {})
    grown = []
    for key, (obj, before) in sizes.items():
        after = _size(obj)
        since = later.get(key, before)
        if obj is not _state and (after[0] > since[0] or after[1] > since[1]):
            grown.append((obj, before))
    return grown


def finish(new_fds):
    """Everything gathered, as records for Rust (harness::Gathered). The automatic collector
    stays off meanwhile: every young collection would walk all the objects
    the runs made, over and over."""
    with _collector_off():
        return _finish(new_fds)


def _finish(new_fds):
    # What the runs made and is alive: the unfrozen objects (cyclic garbage
    # went with the sampler's collections).
    gc.collect()
    alive = gc.get_objects()
    census, made, untracked = _made_census(alive)
    # An lru_cache the runs made is part of what leaks, not what holds it.
    _state["new caches"] = {id(obj) for obj in alive if type(obj) is common.LRU_CACHE}
    # A descriptor's owner may have been made by a library's thread, with no
    # frame of the user's (urllib3's dummy server accepts each connection in
    # its own thread: "a descriptor no object owns", before).
    # An event loop's epoll is not gc-tracked: among the untracked ones made.
    owners = itertools.chain(alive, untracked)
    kinds = _file_types()
    files = [obj for obj in owners if issubclass(type(obj), kinds)] if new_fds else []
    del alive
    lost = _state.get("tracing lost", False)
    points = _state["points"]
    if not _state.get("sites taken") and not lost:
        points.append(_sites())
    keys = set().union(*points)
    sites = []
    for key in keys:
        sizes = [p.get(key, (0, 0))[0] for p in points]
        counts = [p.get(key, (0, 0))[1] for p in points]
        if sizes[-1] > sizes[0]:
            sites.append({"frames": list(key), "sizes": sizes, "counts": counts})
    sites.sort(key=lambda s: s["sizes"][0] - s["sizes"][-1])
    del sites[100:]
    samples = []
    _state["samples"] = samples
    last_by_type = {cls: _standing_for(group) for cls, group in _by_type(made).items()}
    threads = []
    for thread in threading.enumerate():
        if thread.ident not in _state["threads"]:
            where = common.traced(_traceback(thread))
            namespace = _namespace(thread) or {}
            target = namespace.get("_target")
            name = str(namespace.get("_name", ""))
            threads.append({"name": _cut(name), "target": _callable_name(target), "frames": where})
    fds = _fd_owners(new_fds, files)
    # Nothing below needs a traceback: stop tracing, and counting gets fast.
    tracemalloc.stop()
    # Counted from the pass's second run on when it had four or more: what
    # the first two left is there at both ends (a cache filled once, the
    # last run's values a global holds until the next), what leaks is not.
    runs = _state.get("runs", 0)
    at_run_2 = _state.get("census after run 2") if runs >= 4 else None
    census_runs = runs if at_run_2 is None else runs - 2
    rows = []
    for cls, row in census.items():
        count, size, first = row[:3]
        if at_run_2 is not None:
            count_before, size_before = at_run_2.get(cls, (0, 0))
            count, size = count - count_before, size - size_before
            if count <= 0:
                continue
        samples.append(_standing_in_census(cls, row, last_by_type))
        rows.append(
            {
                "type": type_name(cls),
                "count": count,
                "bytes": size,
                "tracked": gc.is_tracked(first),
                "sample": len(samples) - 1,
            }
        )
    # What holds an untracked object may be untracked too, where
    # gc.get_referrers cannot see it: the chains look among these.
    _state["untracked containers"] = [obj for obj in untracked if type(obj) in (tuple, dict)]
    del made, untracked, last_by_type, census
    grown = []
    for obj, before in _grown_containers():
        samples.append(obj)
        after = _size(obj)
        grown.append(
            {
                "type": type_name(type(obj)),
                "bytes_before": before[0],
                "len_before": before[1],
                "bytes_after": after[0],
                "len_after": after[1],
                "sample": len(samples) - 1,
            }
        )
    return {
        # Traces the test itself threw away or restarted say nothing true.
        "sites": [] if lost else sites,
        "malloc": [] if lost else _malloc_lines(),
        "tracing_lost": lost,
        "atexit_added": len(_state["atexit"]),
        "census": rows,
        "census_runs": census_runs,
        "grown": grown,
        "threads": threads,
        "fds": fds,
    }


def _standing_for(group):
    """The object that stands for its type in the chains: one the pass's
    second run made and every later run left alive, when there is one (the
    last run's may be held only until the next, as the global a test rebinds
    each run: pyyaml's classes were blamed on it). Else three quarters down
    the gc's list, which is roughly in the order they were made. By id
    and, where its type allows a weak reference, by that: an address a
    run-2 object freed and a later run's object took again passes an id
    check."""
    if _state.get("runs", 0) > 2:
        kept = [obj for obj in group if _alive_after(2, obj) and not _alive_after(1, obj)]
        if kept:
            return kept[len(kept) // 2]
    return group[len(group) * 3 // 4]


def _alive_after(run, obj):
    """Whether `obj` was alive after the pass's run `run` (1 or 2): by a weak
    reference where its type allows one, else by its id."""
    if _WEAKREF_OFFSET(type(obj)):
        return _among(_state.get(f"references after run {run}", {}), obj)
    return id(obj) in _state.get(f"alive after run {run}", ())


def _callable_name(func):
    """`module.qualname` of a callable, read without running its code."""
    return _cut(_whole_callable_name(func))


def _whole_callable_name(func):
    if func is None:
        return ""
    kind = type(func)
    if kind is types.MethodType:
        owner, func = func.__self__, func.__func__
        return f"{type_name(type(owner))}.{_whole_callable_name(func).rpartition('.')[2]}"
    if kind is types.BuiltinFunctionType:
        owner = func.__self__
        if owner is None or type(owner) is types.ModuleType:
            module = func.__module__
            return f"{module}.{func.__qualname__}" if module else func.__qualname__
        if issubclass(type(owner), type):
            return f"{type_name(owner)}.{func.__name__}"
        return f"{type_name(type(owner))}.{func.__name__}"
    if kind is types.FunctionType:
        module = func.__module__
        name = func.__qualname__
        return f"{module}.{name}" if module and module != "builtins" else name
    return type_name(type(func))


# What owns a descriptor: a raw file, a socket or a selector's poller (an
# event loop's epoll: tornado's kept loops read "no file or socket object
# owns it"), and the buffers and text files over a raw file.
_WRAPPERS = (io.BufferedReader, io.BufferedWriter, io.BufferedRandom, io.TextIOWrapper)
_POLLERS = tuple(
    getattr(select, name) for name in ("epoll", "devpoll", "kqueue") if hasattr(select, name)
)
_FILE_TYPES = (io.FileIO, socket.socket, *_POLLERS, *_WRAPPERS)


def _connection_type():
    """multiprocessing's Connection, when something imported it: it owns its
    descriptor by number (its _handle), made by os.pipe or taken from a
    socket by detach(), and a kept Pipe() read "no file or socket object
    owns it". Never imported here: a test that does not use it has none."""
    module = sys.modules.get("multiprocessing.connection")
    kind = (_namespace(module) or {}).get("Connection") if module is not None else None
    return kind if issubclass(type(kind), type) else None


def _file_types():
    connection = _connection_type()
    return _FILE_TYPES if connection is None else (*_FILE_TYPES, connection)


def _fd_owners(fds, files):
    """fd -> {"owner": type of the Python object that owns it, "frames": where
    it was created, "sample": its index in _state["samples"], for its chain},
    and for a descriptor no object owns, {"owner": None, "frames": where it
    was opened (audit events), "sample": None}. `files`: the objects of
    _FILE_TYPES the runs made."""
    wanted = set(fds)
    owners = {}
    if not wanted:
        return owners
    # The raw owners: their fileno() is C code on these exact base classes.
    raw = {}
    connection = _connection_type()
    for obj in files:
        cls = type(obj)
        if issubclass(cls, io.FileIO):
            fileno = io.FileIO.fileno
        elif issubclass(cls, socket.socket):
            fileno = socket.socket.__mro__[1].fileno  # _socket.socket's, in C
        elif issubclass(cls, _POLLERS):
            fileno = next(poller for poller in _POLLERS if issubclass(cls, poller)).fileno
        elif connection is not None and issubclass(cls, connection):
            # Its fileno() is Python code: read the number it keeps.
            handle = (_namespace(obj) or {}).get("_handle")
            if type(handle) is int and handle in wanted:
                raw[id(obj)] = (handle, obj)
            continue
        else:
            continue
        try:
            fd = fileno(obj)
        except Exception:
            continue
        if fd in wanted:
            raw[id(obj)] = (fd, obj)
    # The outermost wrapper (a text file over a buffer over a raw file) names
    # it best: climb from the raw object through the objects the runs made.
    outer = {key: obj for key, (_, obj) in raw.items()}
    for _ in range(2):
        for obj in files:
            if type(obj) in _WRAPPERS:
                for ref in gc.get_referents(obj):
                    for key, current in outer.items():
                        if ref is current:
                            outer[key] = obj
    samples = _state["samples"]
    for key, (fd, _) in raw.items():
        obj = outer[key]
        samples.append(obj)
        owners[fd] = {
            "owner": type_name(type(obj)),
            "frames": common.traced(_traceback(obj)),
            "sample": len(samples) - 1,
        }
    for fd in wanted - set(owners):
        stack = _opened_at(fd)
        if stack is not None:
            owners[fd] = {"owner": None, "frames": stack, "sample": None}
    return owners


def _opened_at(fd):
    """Where the audit hook saw the descriptor `fd` opened (by its path, or
    the only place that opened anything), innermost frame first."""
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None
    target = target.removesuffix(" (deleted)")  # removed since, as tempfile.mkstemp's often are
    opened = _state.get("opened") or []
    for _, path, stack in opened:
        if path == target:
            return stack
    sockets = target.startswith("socket:")
    places = {tuple(stack) for is_socket, _, stack in opened if is_socket == sockets}
    if sockets and len(places) == 1:
        return list(places.pop())
    return None


def _watch_atexit():
    """Notes the callbacks atexit.register gains during the pass, and drops
    those atexit.unregister takes back: _state["atexit"] holds, for each,
    the ids of the callback and of its arguments (not them: a holder of its
    own would be searched up from). atexit._ncallbacks() also counts what
    was unregistered: opentelemetry's TracerProvider registers its shutdown
    and unregisters it there, +1 a run, and the functions a blocking
    detector swaps in C slots were called atexit callbacks. A bound method
    is taken back by an equal one, not the same: it is keyed by its
    object and function. Put back at end()."""
    import atexit

    live = _state["atexit"] = []
    register, unregister = atexit.register, atexit.unregister

    def watched_register(func, /, *args, **kwargs):
        result = register(func, *args, **kwargs)
        values = tuple(id(value) for value in kwargs.values())
        live.append((_callback_key(func), tuple(id(arg) for arg in args), values))
        return result

    def watched_unregister(func, /):
        key = _callback_key(func)
        live[:] = [entry for entry in live if entry[0] != key]
        return unregister(func)

    atexit.register, atexit.unregister = watched_register, watched_unregister
    _state["atexit put back"] = (atexit, register, unregister, watched_register)


def _callback_key(func):
    if type(func) is types.MethodType:
        return (id(func.__self__), id(func.__func__))
    return id(func)


def _unwatch_atexit():
    watch = _state.get("atexit put back")
    if watch is not None:
        atexit, register, unregister, watched = watch
        if atexit.register is watched:
            atexit.register, atexit.unregister = register, unregister


def chains(handles, starts=()):
    """For each sample, the shortest chain of referrers to a recognised root
    (harness::Chain), or None.

    `starts`: [(module, global, depth)], where causes this worker diagnosed
    before hold their largest type, when it is the largest here too. A
    sample met within `depth` referents of one of those globals gets its
    chain from there (_forward), with the heap left frozen: the search up
    the referrers walks the whole heap at each step, which on click's suite
    (33,451 items collected) made a check of a known cause take 0.7-0.95 s."""
    targets = [_state["samples"][h] for h in handles]
    found = _forward(targets, starts)
    missing = [i for i, chain in enumerate(found) if chain is None]
    if missing:
        rest = [targets[i] for i in missing]
        # Only the list the search is given may refer to its targets: it
        # ignores that one (and every frame), no other.
        del targets
        for i, chain in zip(missing, _backward(rest)):
            found[i] = chain
    _chain_caches[:] = [
        chain.pop("caches", []) if chain is not None and chain["reached"] else None
        for chain in found
    ]
    return found


def _bounded_caches(path):
    """The lru_caches with a maxsize that `path` goes through, but those the
    runs made (part of what leaks)."""
    new = _state.get("new caches", ())
    return [
        obj
        for obj in path
        if type(obj) is common.LRU_CACHE
        and id(obj) not in new
        and (obj.cache_info().maxsize or 0) > 0
    ]


def filling():
    """[(name, maxsize, misses)] of the bounded caches the chains go through,
    when every chain found goes through one; else []: what grows is held
    elsewhere too, or its holder is unknown. Each miss is a new entry."""
    if not _chain_caches or not all(_chain_caches):
        return []
    caches = {id(c): c for chain in _chain_caches for c in chain}.values()
    return [
        (f"lru_cache of {_callable_name(_static_wrapped(c))}", info.maxsize, info.misses)
        for c, info in ((c, c.cache_info()) for c in caches)
    ]


def forget_caches():
    _chain_caches.clear()


def _forward(targets, starts):
    """The chains from the globals `starts` down to those of `targets` met
    within their depth; None for the others. Walks only what each global
    refers to, neither classes nor modules' namespaces, and stops after the
    step that passes _MAX_REACH objects. It looks for the target or any
    object the pass made that holds it (_made_above): a known cause's cache
    holds every earlier test's objects beside this one's. On click's suite
    one WeakKeyDictionary held 30,000 streams: walking below them all went
    past the budget, and every check searched the whole heap instead."""
    found = [None] * len(targets)
    if not starts:
        return found
    # A chain up the referrers stops at the first class or module it meets
    # (_Roots.root): one down from a global never goes through another, and
    # every instance refers to its class, every function to its module's
    # namespace, through which a walk would reach the whole heap.
    roots = {id(namespace) for _, namespace in _namespaces()}
    downs, objects = _made_above(targets, max(depth for _, _, depth in starts), roots)
    wanted = {}
    for i, down in enumerate(downs):
        for holder in down:
            wanted.setdefault(holder, []).append(i)
    for module_name, global_, depth in starts:
        namespace = _module_namespace(module_name)
        # A class attribute's chain starts at the class: left to _backward.
        if "." in global_ or namespace is None or global_ not in namespace:
            continue
        start = namespace[global_]
        if issubclass(type(start), type):  # a class is a root of its own
            continue
        parent = {id(start): namespace}
        frontier = [start]
        met = [id(start)]
        visited = 0
        for level in range(depth + 1):
            for obj, key in zip(frontier, met):
                for i in wanted.get(key, ()):
                    if found[i] is None:
                        path = [obj]
                        while path[-1] is not namespace:
                            path.append(parent[id(path[-1])])
                        path.reverse()
                        path.extend(_down(obj, downs[i], objects))
                        found[i] = _chain(f"module {module_name}", _hops(path), True)
                        found[i]["caches"] = _bounded_caches(path)
            # Past the budget, what the last step met is still looked at.
            done = all(chain is not None for chain in found)
            if level == depth or done or visited > _MAX_REACH:
                break
            # id() once an object: each call is an audit event, which runs
            # the harness's two audit hooks (Python functions).
            following, met = [], []
            for obj in frontier:
                for ref in gc.get_referents(obj):
                    key = id(ref)
                    if key in parent or key in roots or issubclass(type(ref), type):
                        continue
                    parent[key] = obj
                    following.append(ref)
                    met.append(key)
            visited += len(following)
            frontier = following
        del parent, frontier
    del objects
    return found


# Objects above one target that _made_above looks at, at most.
_MAX_MADE_ABOVE = 2000


def _made_above(targets, depth, roots):
    """For each target, {id(holder): id of what it holds on the way down (None
    for the target itself)}, and {id: object} of them all: the target and
    what refers to it, up to `depth` steps, among the objects the pass made.
    The heap is frozen (begin), and gc.get_referrers looks only at what is
    not: each step walks the pass's own objects, not the whole heap. Only
    ids are kept: a tuple of a holder and its child would be a new referrer."""
    objects = {}
    ignore = _own_holders()
    ignore.update((id(targets), id(roots), id(objects)))
    downs = []
    for target in targets:
        down = {id(target): None}
        objects[id(target)] = target
        frontier = [target]
        ignore.update((id(down), id(frontier)))
        for _ in range(depth):
            held = {id(obj) for obj in frontier}
            referrers = _referrers(frontier)
            following = []
            ignore.update((id(referrers), id(following)))
            for ref in referrers:
                key = id(ref)  # once: each id() is an audit event (_forward)
                if key in ignore or key in down or key in roots:
                    continue
                if type(ref) is types.FrameType or issubclass(type(ref), type):
                    continue
                child = next((c for c in map(id, gc.get_referents(ref)) if c in held), None)
                if child is None:
                    continue
                down[key] = child
                objects[key] = ref
                following.append(ref)
            del referrers
            if not following or len(down) > _MAX_MADE_ABOVE:
                break
            frontier[:] = following
            del following
        frontier.clear()
        downs.append(down)
    return downs, objects


def _down(holder, down, objects):
    """[what `holder` holds on the way to its target, ..., the target]."""
    path = []
    child = down[id(holder)]
    while child is not None:
        path.append(objects[child])
        child = down[child]
    return path


# First among the arguments of every gc.get_referrers call: it marks the
# tuple the call packs them in.
_CALL_MARK = object()


def _referrers(objects):
    """gc.get_referrers(*objects), less the tuple the call packed them in:
    from 3.13 on that tuple is tracked and refers to every one of them, and
    the search climbed a chain of its own calls' tuples to its depth limit
    (every object only C code holds read "no module, class or thread was
    found"). The mark's own referrer, this module's namespace, holds none
    of them."""
    return [
        ref
        for ref in gc.get_referrers(_CALL_MARK, *objects)
        if not (type(ref) is tuple and ref and ref[0] is _CALL_MARK)
    ]


def _own_holders():
    """The ids of what the search itself holds objects with: the frames of
    its calls, the pass's state, and the set it returns."""
    ignore = {id(_state)}
    frame = sys._getframe(1)
    while frame is not None:
        ignore.add(id(frame))
        frame = frame.f_back
    ignore.update(id(value) for value in _state.values())
    ignore.add(id(ignore))
    return ignore


def _backward(targets):
    """chains() for `targets`, up their referrers through the whole heap."""
    # The whole heap may hold the way to a root: search it all.
    gc.unfreeze()
    ignore = _own_holders()
    modules = {}
    namespaces = []
    for name, namespace in _namespaces():
        if name.startswith("_leakhunt"):
            ignore.add(id(namespace))  # the harness is never the culprit
        else:
            modules[id(namespace)] = name
            namespaces.append(namespace)
    threads = {}
    frames = []
    for ident, top in sys._current_frames().items():
        if ident == threading.get_ident():
            continue
        while top is not None:
            threads[id(top)] = ident
            frames.append(top)
            top = top.f_back
    names = {}
    for thread in threading.enumerate():
        names[thread.ident] = str((_namespace(thread) or {}).get("_name", thread.ident))
    roots = _Roots(modules, threads, names, _state["atexit"], _made_modules())
    roots.frames = frames
    ignore.update((id(roots.context), id(frames)))
    containers = _state.get("untracked containers", [])
    if not all(gc.is_tracked(target) for target in targets):
        containers = containers + _old_untracked_dicts(namespaces)
        ignore.add(id(containers))
    del namespaces
    found = _search(targets, ignore, roots, containers)
    if found is None:
        return [_chain("", [], False, timed_out=True) for _ in targets]
    return found


_CLASS_NAMESPACE = type.__dict__["__dict__"].__get__


def _old_untracked_dicts(namespaces):
    """The dicts that modules and their classes hold and the gc does not
    track (nothing in them but strings, numbers and the like): a class's
    cache of strings, made at import, that gains an entry every run
    (tornado's StaticFileHandler._static_hashes) is a referrer that
    gc.get_referrers cannot see, and what it held read "a missing
    Py_DECREF" before."""
    found = {}
    for namespace in namespaces:
        for value in list(namespace.values()):
            if issubclass(type(value), type):
                held = list(_CLASS_NAMESPACE(value).values())
            else:
                held = [value]
            # An lru_cache's own dict: Babel's functools.cache on
            # localedata.exists, str -> bool, gained a key a run.
            held.extend(
                inner
                for obj in list(held)
                if type(obj) is common.LRU_CACHE
                for inner in gc.get_referents(obj)
            )
            for obj in held:
                if type(obj) is dict and not gc.is_tracked(obj):
                    found[id(obj)] = obj
    return list(found.values())


# Hooks a program replaces by assignment; each has its default as __NAME__.
_HOOKS = (
    ("sys", "excepthook"),
    ("sys", "unraisablehook"),
    ("sys", "displayhook"),
    ("sys", "breakpointhook"),
    ("threading", "excepthook"),
)


class _Roots:
    """Recognises what holds objects for good: modules, threads' frames and
    the registries the interpreter keeps."""

    def __init__(self, modules, threads, names, atexit, made_modules):
        self.modules = modules
        # A module the runs made (pydantic's tests make one each and put it
        # in sys.modules): sys.modules holds it, not the suite.
        self.made_modules = made_modules
        self.threads = threads
        self.names = names
        # What atexit keeps that the runs registered: callbacks, and each
        # one's arguments (the tuple and dict it makes of them).
        self.atexit_callbacks = {key for key, _, _ in atexit}
        self.atexit_arguments = {ids for _, args, values in atexit for ids in (args, values) if ids}
        self.new_caches = _state.get("new caches", ())
        self.handlers = {}
        import signal

        for signum in signal.valid_signals():
            try:
                handler = signal.getsignal(signum)
            except (ValueError, OSError):
                continue
            if callable(handler):
                self.handlers.setdefault(id(handler), signal.Signals(signum).name)
        # Hooks replaced by the user: their modules' dicts hold them too, but
        # "module sys -> excepthook" hides that it is a replacement.
        self.hooks = {}
        for module, name in _HOOKS:
            hook = getattr(sys.modules.get(module), name, None)
            default = getattr(sys.modules.get(module), f"__{name}__", None)
            if hook is not None and hook is not default:
                self.hooks.setdefault(id(hook), f"{module}.{name} replacement")
        # faulthandler's module object refers (in C) to the files it was
        # given; reached from below, it is by one of those, never its dict.
        faulthandler = sys.modules.get("faulthandler")
        if faulthandler is not None:
            self.hooks[id(faulthandler)] = "faulthandler's file (faulthandler.enable / register)"
        # The context of the thread that runs the tests: its thread state
        # holds it, where the gc sees no referrer, and a ContextVar set there
        # and never reset keeps its value for good. A copy shares its
        # mapping (a HAMT), which is how the search recognises it.
        self.context = contextvars.copy_context()
        self.context_mapping = {id(m) for m in gc.get_referents(self.context)}
        self.thread_name = threading.current_thread().name
        # The frames of the other threads, innermost first, and what their
        # locals hold (read at the first dead end, once).
        self.frames = []
        self.locals = None

    def root(self, obj):
        if obj is sys.modules:
            return "sys.modules"
        if id(obj) in self.context_mapping:
            return f"the context of thread {_short(self.thread_name)} (contextvars)"
        if id(obj) in self.hooks:
            return self.hooks[id(obj)]
        if type(obj) is dict and id(obj) in self.modules:
            return self.module(self.modules[id(obj)])
        if issubclass(type(obj), type):
            module = _module_of(obj)
            if module is None:
                return "a class with no __module__"
            return self.module(module) if _named_by_its_module(obj, module) else None
        if type(obj) is types.FrameType and id(obj) in self.threads:
            ident = self.threads[id(obj)]
            return f"thread {_short(self.names.get(ident, ident))}"
        if type(obj) is common.LRU_CACHE and id(obj) not in self.new_caches:
            return f"lru_cache of {_callable_name(_static_wrapped(obj))}"
        return None

    def module(self, name):
        if name in self.made_modules:
            return f"sys.modules[{_short(name)}] (a module the runs made)"
        return f"module {_cut(name)}"

    def hops(self, path):
        """_hops(path), with the context's mapping read as its variables: its
        HAMT's nodes are CPython's, the variable is what the user set."""
        if id(path[0]) not in self.context_mapping:
            return _hops(path)
        below = next((i for i, obj in enumerate(path) if not _is_hamt_type(type(obj))), len(path))
        if below == len(path):
            return [("", type_name(type(path[-1])))]
        held = path[below]
        label = "(key)"
        for variable, value in self.context.items():
            if value is held:
                label = f"[ContextVar {_short(_VARIABLE_NAME(variable))}]"
                break
        rest = _hops(path[below:])
        return [(label, type_name(type(held)))] + rest

    def running_frame(self, obj):
        """The frame of another thread, still running, whose locals hold obj.
        The gc sees no such referrer: from 3.11 on a running frame's locals
        live in the thread's own stack, and its frame object refers to none
        of them (a thread a test started and never stopped, waiting on an
        Event it made, read "a missing Py_DECREF"). Reading f_locals copies
        them into the frame's dict on 3.11 and 3.12, so only at a dead end."""
        if self.locals is None:
            self.locals = {}
            # Outermost first: the test's function holding an Event it made
            # names it better than the Event's own wait() as `self`.
            for frame in reversed(self.frames):
                try:
                    values = list(frame.f_locals.values())
                except Exception:
                    continue
                for value in values:
                    self.locals.setdefault(id(value), frame)
        return self.locals.get(id(obj))

    def dead_end(self, obj):
        """What holds obj when nothing the gc sees does: a registry kept in
        the interpreter's C state. None when it is none of those."""
        if id(obj) in self.handlers:
            return f"signal handler for {self.handlers[id(obj)]} (signal.signal)"
        if type(obj) is list:
            for item in obj:
                if item is _audit:
                    return "audit hooks (sys.addaudithook)"
                if item is _at_fork:
                    return "fork callbacks (os.register_at_fork)"
                if _callable_name(item) == "encodings.search_function":
                    return "codec search functions (codecs.register)"
        if type(obj) is dict and _is_subclass_table(obj):
            return "a class's table of subclasses (weak references, gone with each subclass)"
        if callable(obj) and _callback_key(obj) in self.atexit_callbacks:
            return "atexit callbacks (atexit.register)"
        # The arguments atexit keeps with a callback: its args tuple and its
        # kwargs dict (psutil's tests register a cleanup of each temporary
        # path they make: 40 leaks read "a missing Py_DECREF").
        if type(obj) in (tuple, dict):
            values = obj if type(obj) is tuple else obj.values()
            if tuple(id(value) for value in values) in self.atexit_arguments:
                return "atexit callbacks (atexit.register), a callback's arguments"
        return None


# A ContextVar's name, by its C descriptor (the type cannot be subclassed).
_VARIABLE_NAME = contextvars.ContextVar.__dict__["name"].__get__
# The types of a context's mapping, CPython's immutable HAMT and its nodes.
_HAMT_TYPES = frozenset(("hamt", "hamt_bitmap_node", "hamt_array_node", "hamt_collision_node"))


def _is_hamt_type(kind):
    static = not _FLAGS(kind) & _HEAP_TYPE
    return static and _QUALNAME(kind) in _HAMT_TYPES and _module_of(kind) == "builtins"


def _is_subclass_table(table):
    """A class's table of its subclasses: weak references to classes, keyed
    by their addresses, kept in the class's C slot where the gc sees no
    referrer. Each entry goes with the subclass it refers to."""
    found = False
    for key, ref in table.items():
        if type(key) is not int or type(ref) is not weakref.ReferenceType:
            return False
        cls = ref()
        if cls is not None and not issubclass(type(cls), type):
            return False
        found = True
    return found


def _static_wrapped(cache):
    namespace = _namespace(cache) or {}
    return namespace.get("__wrapped__")


def _search(targets, ignore, roots, containers):
    """Breadth first from every target at once, up the referrers: one walk of
    the heap per level (gc.get_referrers of a whole level), not per object.
    gc.get_referrers sees only what the gc tracks: an untracked object's
    referrers are also looked for among `containers`, the untracked tuples
    and dicts the test made (ints in a tuple in a dict of a module's cache
    read "nothing refers to it", a missing Py_DECREF, before)."""
    results = [None] * len(targets)
    # Per target: parent[id(referrer)] = the object it refers to, on the way down.
    parents = [{id(t): None} for t in targets]
    objects = [{id(t): t} for t in targets]
    frontiers = [[t] for t in targets]
    visited = [1] * len(targets)
    # The search left referrers out (too many at one level, or in all): a
    # search that ran out of referrers without a root proves nothing then.
    cut = [False] * len(targets)
    ignore.update((id(parents), id(objects), id(frontiers), id(targets), id(cut)))
    ignore.update(id(p) for p in parents)
    ignore.update(id(o) for o in objects)
    ignore.update(id(f) for f in frontiers)
    for depth in range(_MAX_DEPTH):
        if time.monotonic() > _state["deadline"]:
            return None if depth == 0 else _unfinished(results, roots)
        level = {}
        for i, frontier in enumerate(frontiers):
            if results[i] is None:
                cut[i] = cut[i] or len(frontier) > _MAX_FRONTIER
                for obj in frontier[:_MAX_FRONTIER]:
                    level[id(obj)] = obj
        if not level:
            break
        current = [{id(o) for o in f[:_MAX_FRONTIER]} for f in frontiers]
        wanted = list(level.values())
        referrers = _referrers(wanted)
        untracked = {id(obj) for obj in wanted if not gc.is_tracked(obj)}
        if untracked:
            referrers.extend(
                holder
                for holder in containers
                if any(id(ref) in untracked for ref in _referents([holder]))
            )
        ignore.update((id(referrers), id(wanted), id(level), id(current), id(untracked)))
        referred = set()
        nexts = [[] for _ in targets]
        ignore.update(id(n) for n in nexts)
        for ref in referrers:
            if id(ref) in ignore:
                continue
            children = [c for c in _referents([ref]) if id(c) in level]
            for child in children:
                referred.add(id(child))
            for i, parent in enumerate(parents):
                if results[i] is not None or id(ref) in parent:
                    continue
                child = next((c for c in children if id(c) in current[i]), None)
                if child is None:
                    continue
                # A root is taken past the budget: it ends the search.
                root = roots.root(ref)
                if visited[i] >= _MAX_VISITED and root is None:
                    cut[i] = True
                    continue
                parent[id(ref)] = child
                objects[i][id(ref)] = ref
                visited[i] += 1
                if root is not None:
                    results[i] = _reached(root, _path(ref, parent, objects[i]), ignore)
                else:
                    nexts[i].append(ref)
        del referrers, wanted
        for i, frontier in enumerate(frontiers):
            if results[i] is not None:
                continue
            # A registry the interpreter keeps in C holds what nothing refers to.
            for obj in frontier[:_MAX_FRONTIER]:
                if id(obj) not in referred:
                    root = roots.dead_end(obj)
                    if root is not None:
                        results[i] = _reached(root, _path(obj, parents[i], objects[i]), ignore)
                        break
                    frame = roots.running_frame(obj)
                    if frame is not None:
                        parents[i][id(frame)] = obj
                        objects[i][id(frame)] = frame
                        path = _path(frame, parents[i], objects[i])
                        results[i] = _reached(roots.root(frame), path, ignore)
                        break
            if results[i] is None and depth == 0 and not nexts[i]:
                results[i] = _chain("", [], False)
            elif results[i] is None and not nexts[i] and not cut[i]:
                # Every referrer up from it was seen, and none is held by
                # anything the gc sees: C code holds one of them (numpy
                # 2.5's user dtypes keep their class, whose own tuple and
                # descriptors refer to it: "no module, class or thread was
                # found", before).
                results[i] = _chain("", [], False, island=len(objects[i]) - 1)
            frontier[:] = _rarest_first(nexts[i])
        del level
    return [_labelled(r, roots) for r in results]


def _rarest_first(frontier):
    """The frontier with its rarest types first, when it is longer than the
    search takes: a registry every instance also refers to (tornado's
    clients each keep the class's WeakKeyDictionary of them all) has
    hundreds of referrers of one type, and the class's own dict, the way to
    the root, came after them and was left out."""
    if len(frontier) <= _MAX_FRONTIER:
        return frontier
    counts = {}
    for obj in frontier:
        counts[id(type(obj))] = counts.get(id(type(obj)), 0) + 1
    return sorted(frontier, key=lambda obj: counts[id(type(obj))])


def _reached(root, path, ignore):
    """A chain found, labelled only once the search is over: reading an
    object's attributes can make its __dict__ (3.11's managed dicts), after
    which the gc sees the object refer to that dict and no longer to what
    it holds, and a search still going up through it lost its way (a
    ContextVar's tokens, 16 steps from the context, were called C-held)."""
    ignore.add(id(path))
    return (root, path)


def _labelled(result, roots):
    if type(result) is not tuple:
        return result
    root, path = result
    # A registry that holds the object itself: name its type.
    hops = roots.hops(path) if len(path) > 1 else [("", type_name(type(path[0])))]
    chain = _chain(root, hops, True)
    chain["caches"] = _bounded_caches(path)
    return chain


def _unfinished(results, roots):
    return [
        _labelled(r, roots) if r is not None else _chain("", [], False, timed_out=True)
        for r in results
    ]


def _chain(root, hops, reached, timed_out=False, island=0):
    """`root`: what holds the object for good; `hops`: [(label, type name)]
    from the root down; `reached`: a root was found; `timed_out`: the search
    stopped before it could tell; `island`: with no root, how many objects
    refer to it, all of them held by nothing the gc sees."""
    return {
        "root": root,
        "hops": [{"label": label, "type": name} for label, name in hops],
        "reached": reached,
        "timed_out": timed_out,
        "island": island,
    }


def _path(top, parent, objects):
    """[top, ..., target]: from the referrer found down to the leaked object."""
    path = [top]
    while parent[id(path[-1])] is not None:
        path.append(parent[id(path[-1])])
    return path


def _hops(path):
    """[(label, type name)] from the root (path[0]) down to the leaked object."""
    hops = [(_label(path[i - 1], path[i]), type_name(type(path[i]))) for i in range(1, len(path))]
    # A module's, a class's or an instance's __dict__ is an implementation
    # detail: `['name']` in it reads as the attribute `.name`.
    folded = []
    for label, name in hops:
        attribute = label.startswith("['") and label.endswith("']")
        if attribute and (not folded and type(path[0]) is dict):
            label = label[2:-2]
        elif attribute and folded and folded[-1][0] == ".__dict__":
            folded.pop()
            label = "." + label[2:-2]
        folded.append((label, name))
    if folded and issubclass(type(path[0]), type) and folded[0][0].startswith("."):
        qualname = _cut(_QUALNAME(path[0]))
        folded[0] = (qualname + folded[0][0], folded[0][1])
    return folded


def _label(parent, child):
    """How parent refers to child, read without running the parent's code."""
    kind = type(parent)
    if kind is dict:
        for key, value in parent.items():
            if value is child:
                if issubclass(type(child), threading.Thread):
                    name = (_namespace(child) or {}).get("_name", "")
                    return f"[{_short(name)}]"  # keyed by an ident that changes every run
                return f"[{_short(key)}]"
        return "(key)"
    if kind in (list, tuple):
        for i, value in enumerate(parent):
            if value is child:
                return f"[{i}]"
        return ""
    if kind in (set, frozenset):
        return ""
    if issubclass(kind, type):
        return ".__dict__"
    if kind is types.FrameType:
        for name, value in parent.f_locals.items():
            if value is child:
                return f"{_cut(parent.f_code.co_name)}() local {_cut(name)}"
        return f"{_cut(parent.f_code.co_name)}()"
    if kind is types.CellType:
        return ".cell_contents"
    if issubclass(kind, BaseException):
        for name, read in _EXCEPTION_LINKS:
            if read(parent) is child:
                return "." + name
    if kind in _BUILTIN_OWNERS:
        for name in _ATTRIBUTES:
            try:
                if getattr(parent, name, None) is child:
                    return "." + name
            except Exception:
                pass
    namespace = _namespace(parent)
    if namespace is child:
        return ".__dict__"
    if namespace is not None:
        for name, value in namespace.items():
            if value is child:
                # A __dict__ may be given keys that are not str.
                return "." + _cut(name) if type(name) is str else f"[{_short(name)}]"
    # __slots__: member descriptors are C code.
    for klass in _mro(kind):
        for name, descriptor in _DICT(klass).items():
            if type(descriptor) is types.MemberDescriptorType:
                try:
                    if descriptor.__get__(parent, kind) is child:
                        return "." + _cut(name)
                except Exception:
                    pass
    return ""


# BaseException's own C descriptors: reading them runs none of a subclass's code.
_EXCEPTION_LINKS = tuple(
    (name, BaseException.__dict__[name].__get__)
    for name in ("__traceback__", "__context__", "__cause__", "args")
)

_ATTRIBUTES = (
    "__closure__",
    "__defaults__",
    "__kwdefaults__",
    "__dict__",
    "__self__",
    "__func__",
    "tb_frame",
    "tb_next",
    "gi_frame",
    "cr_frame",
    "__wrapped__",
)


def _short(value):
    """The repr of a key of a builtin type; user objects are named by type."""
    atom = type(value) in (str, bytes, int, float, bool, complex) or value is None
    atoms = type(value) is tuple and all(type(v) in (str, int, float, bool) for v in value)
    text = repr(value) if atom or atoms else f"<{type_name(type(value))}>"
    return text if len(text) <= 40 else text[:37] + "..."


def _watch_malloc():
    """Reads malloc's in-use bytes (glibc's mallinfo2: small blocks and mapped
    big ones) at every line of the user's frames, and adds what grew to the
    line that ran: the line after which a native leak's amount appears every
    run made it. A trace function, during the diagnosis runs only."""
    import ctypes

    class Mallinfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in (
                "arena",
                "ordblks",
                "smblks",
                "hblks",
                "hblkhd",
                "usmblks",
                "fsmblks",
                "uordblks",
                "fordblks",
                "keepcost",
            )
        ]

    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):  # not glibc 2.33+
        return
    mallinfo2.restype = Mallinfo2
    grown = {}
    code = {}  # (file, line): the code and globals that ran it
    where = [None, 0]

    def used():
        info = mallinfo2()
        return info.uordblks + info.hblkhd

    def local(frame, event, arg):
        if event == "line" or event == "return":
            now = used()
            if where[0] is not None:
                grown[where[0]] = grown.get(where[0], 0) + now - where[1]
            where[0] = (frame.f_code.co_filename, frame.f_lineno) if event == "line" else None
            if where[0] is not None and where[0] not in code:
                code[where[0]] = (frame.f_code, frame.f_globals)
            where[1] = used()  # after this bookkeeping: it is not the line's
        return local

    def call(frame, event, arg):
        if _is_user_file(frame.f_code.co_filename):
            return local
        return None

    _state["malloc"] = grown
    _state["malloc code"] = code
    _state["previous trace"] = sys.gettrace()
    sys.settrace(call)


def _malloc_lines():
    """The lines malloc grew on, biggest first (harness::MallocLine): the
    line as one frame, the bytes grown in all runs and the C functions it
    calls. The trace function is gone after this."""
    grown = _state.get("malloc")
    if grown is None:
        return []
    sys.settrace(_state.get("previous trace"))
    lines = sorted(grown.items(), key=lambda item: -item[1])
    code = _state["malloc code"]
    return [
        {"frames": [key], "bytes": size, "c_functions": _c_functions(key[1], *code[key])}
        for key, size in lines[:5]
        if size > 0
    ]


def _c_functions(line, code, namespace):
    """The C functions a line calls through ctypes (`LIBC.malloc(n)`:
    "malloc"), found without running user code: the names and attributes the
    line's bytecode loads, looked up statically from its globals."""
    import ctypes
    import dis
    import inspect

    found = []
    current = None
    lineno = None
    for instruction in dis.get_instructions(code):
        positions = getattr(instruction, "positions", None)  # 3.11+
        if positions is not None:
            lineno = positions.lineno
        elif instruction.starts_line is not None:
            lineno = instruction.starts_line
        if lineno != line:
            current = None
            continue
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            name = instruction.argval
            current = namespace.get(name, _NOTHING)
            if current is _NOTHING:
                current = vars(builtins).get(name)
        elif instruction.opname in ("LOAD_ATTR", "LOAD_METHOD") and current is not None:
            current = inspect.getattr_static(current, instruction.argval, None)
        else:
            current = None
        if issubclass(type(current), ctypes._CFuncPtr):
            name = inspect.getattr_static(current, "__name__", None)
            if type(name) is str and name not in found:
                found.append(name)
    return found


_NOTHING = object()


def end():
    """Back to what the sampler expects: 1-frame tracing, nothing held. The
    heap stays as the pass left it: frozen, unless a chain was looked for
    up the referrers of the whole heap. Unfrozen for nothing, it cost the
    next test's freeze a full collection (a fifth of a worker's time on
    click's suite, 33,451 items collected)."""
    if "malloc" in _state:
        sys.settrace(_state.get("previous trace"))
    _unwatch_atexit()
    _state.clear()
    if tracemalloc.is_tracing():
        tracemalloc.stop()
    tracemalloc.start()
