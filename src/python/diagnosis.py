"""The diagnosis pass, inside the interpreter: snapshots, census, referrer chains.

Only for tests already flagged as leaking. Rust runs the test between calls to
point() and decides what of this is worth showing; this module only gathers.
Everything it allocates is recognised by its file name in tracemalloc's
tracebacks and left out of what it reports.
"""

import gc
import io
import socket
import sys
import threading
import tracemalloc
import types

_OWN_FILES = (
    "<leakhunt _leakhunt_diagnosis>",
    "<leakhunt _leakhunt_sampler>",
    "<leakhunt _leakhunt_resource_warnings>",
)
# Containers whose size is compared before and after, for leaks that grow an
# existing object in place. Only builtins: __sizeof__ of a user class is user code.
_SIZED = (list, dict, set, bytearray)
_MAX_VISITED = 400
_MAX_DEPTH = 10

_state = {}


# Py_TPFLAGS_MANAGED_DICT: 3.11's tracemalloc.get_object_traceback() misses
# instances of such classes (their memory starts before the object header).
_MANAGED_DICT = 1 << 4


def _traceback(obj):
    """Where obj was allocated; for an instance 3.11 cannot look up, where the
    first of its attributes was (its __init__ made them)."""
    tb = tracemalloc.get_object_traceback(obj)
    if tb is None and type(obj).__flags__ & _MANAGED_DICT:
        for value in getattr(obj, "__dict__", {}).values():
            tb = tracemalloc.get_object_traceback(value)
            if tb is not None:
                break
    return tb


def _is_own(obj, managed={}):
    """Not the test's doing: allocated before this pass, or by leakhunt.
    Called on every object of the heap: it allocates nothing for old ones."""
    tb = tracemalloc.get_object_traceback(obj)
    if tb is None:
        cls = type(obj)
        if cls not in managed:
            managed[cls] = bool(cls.__flags__ & _MANAGED_DICT)
        return not managed[cls] or id(obj) in _state["before"]
    for frame in tb:
        if frame.filename in _OWN_FILES:
            return True
    return False


def type_name(cls):
    module = getattr(cls, "__module__", "builtins")
    if module == "builtins":
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"


def _frames(tb):
    """Innermost first, as (filename, line)."""
    return [(f.filename, f.lineno) for f in reversed(tb)] if tb is not None else []


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
    objects = gc.get_objects()
    sizes = {id(obj): (obj, _size(obj)) for obj in objects if type(obj) in _SIZED}
    for ref in gc.get_referents(*objects):
        if type(ref) is bytearray:
            sizes[id(ref)] = (ref, _size(ref))
    return sizes


def _size(obj):
    # A list's buffer grows in jumps, its length every run: compare both.
    return sys.getsizeof(obj), len(obj)


def begin(nframes, in_place):
    """Restarts tracemalloc with deep tracebacks and takes the first point."""
    # Heap walks first, untraced: tracing every allocation 25 frames deep is slow.
    tracemalloc.stop()
    gc.unfreeze()
    gc.collect()
    _state.clear()
    _state["before"] = {id(obj) for obj in gc.get_objects()}
    _state["threads"] = {t.ident for t in threading.enumerate()}
    _state["sizes"] = _sizes() if in_place else None
    tracemalloc.start(nframes)
    _state["points"] = [_sites()]
    _state["last"] = []
    gc.freeze()


def point():
    """After one run (and the sampler's collection): what the run left alive."""
    new = [obj for obj in gc.get_objects() if not _is_own(obj)]
    _state["last"] = new
    _state["points"].append(_sites())
    gc.freeze()
    return len(new)


def _census():
    """(type -> [count, bytes, first object]) of what the pass allocated and
    is still alive, untracked objects found as referents of tracked ones."""
    found = {}
    seen = set()
    objects = gc.get_objects()
    # One call for all referents: a list per object, traced, would be slow.
    todo = [ref for ref in gc.get_referents(*objects) if not gc.is_tracked(ref)]
    todo.extend(objects)
    del objects
    while todo:
        obj = todo.pop()
        if _is_own(obj) or id(obj) in seen:
            continue
        seen.add(id(obj))
        row = found.setdefault(type(obj), [0, 0, obj])
        row[0] += 1
        row[1] += sys.getsizeof(obj)
        if type(obj) in (tuple, dict) and not gc.is_tracked(obj):
            todo.extend(gc.get_referents(obj))
    return found


def finish(new_fds):
    """Everything gathered, as plain tuples for Rust."""
    gc.unfreeze()
    gc.collect()
    points = _state["points"]
    keys = set().union(*points)
    sites = []
    for key in keys:
        sizes = [p.get(key, (0, 0))[0] for p in points]
        counts = [p.get(key, (0, 0))[1] for p in points]
        if sizes[-1] > sizes[0]:
            sites.append((list(key), sizes, counts))
    sites.sort(key=lambda s: s[1][0] - s[1][-1])
    del sites[100:]
    samples = []
    _state["samples"] = samples
    last_by_type = {}
    for obj in _state["last"]:
        last_by_type.setdefault(type(obj), obj)
    census = []
    for cls, (count, size, first) in _census().items():
        samples.append(last_by_type.get(cls, first))
        census.append((type_name(cls), count, size, gc.is_tracked(first), len(samples) - 1))
    threads = []
    for thread in threading.enumerate():
        if thread.ident not in _state["threads"]:
            target = getattr(thread, "_target", None)
            where = _frames(_traceback(thread))
            threads.append((thread.name, _callable_name(target), where))
    fds = _fd_owners(new_fds)
    # Nothing below needs a traceback: stop tracing, walks get fast again.
    tracemalloc.stop()
    grown = []
    if _state["sizes"] is not None:
        for key, (obj, before) in _state["sizes"].items():
            after = _size(obj)
            if after[0] > before[0] or after[1] > before[1]:
                samples.append(obj)
                grown.append((type_name(type(obj)), before, after, len(samples) - 1))
    return {
        "sites": sites,
        "census": census,
        "grown": grown,
        "threads": threads,
        "fds": fds,
    }


def _callable_name(func):
    if func is None:
        return ""
    owner = getattr(func, "__self__", None)
    name = getattr(func, "__qualname__", None) or repr(func)
    module = getattr(func, "__module__", None) or type_name(type(owner)).rpartition(".")[0]
    return f"{module}.{name}" if module and module != "builtins" else name


def _fd_owners(fds):
    """fd -> (type of the Python object that owns it, where it was created)."""
    wanted = set(fds)
    owners = {}
    if not wanted:
        return owners
    # The outermost wrapper (a text file over a buffer over a raw file) names it
    # best. Concrete classes: isinstance() on the io ABCs is slow on a whole heap.
    rank = {
        io.TextIOWrapper: 0,
        socket.socket: 0,
        io.BufferedReader: 1,
        io.BufferedWriter: 1,
        io.BufferedRandom: 1,
        io.FileIO: 2,
    }
    for obj in gc.get_objects():
        for base, order in rank.items():
            if isinstance(obj, base):
                break
        else:
            continue
        try:
            fd = obj.fileno()
        except Exception:
            continue
        if fd in wanted and (fd not in owners or owners[fd][0] > order):
            owners[fd] = (order, obj)
    return {
        fd: (type_name(type(obj)), _frames(_traceback(obj)))
        for fd, (order, obj) in owners.items()
    }


def chains(handles):
    """For each sample, the shortest chain of referrers to a recognised root:
    (root, [(label, type name)] from the root down, reached) or None."""
    ignore = set()
    frame = sys._getframe()
    while frame is not None:
        ignore.add(id(frame))
        frame = frame.f_back
    for value in _state.values():
        ignore.add(id(value))
    ignore.add(id(_state))
    ignore.add(id(ignore))
    modules = {}
    for name, module in list(sys.modules.items()):
        namespace = getattr(module, "__dict__", None)
        if namespace is None:
            continue
        if name.startswith("_leakhunt"):
            ignore.add(id(namespace))  # the harness is never the culprit
        else:
            modules[id(namespace)] = name
    threads = {}
    for ident, top in sys._current_frames().items():
        if ident == threading.get_ident():
            continue
        while top is not None:
            threads[id(top)] = ident
            top = top.f_back
    names = {t.ident: t.name for t in threading.enumerate()}
    return [_chain(_state["samples"][h], ignore, modules, threads, names) for h in handles]


def _chain(target, ignore, modules, threads, names):
    parent = {id(target): None}
    queue = [target]
    ignore.add(id(queue))
    ignore.add(id(parent))
    index = 0
    depth = {id(target): 0}
    while index < len(queue) and index < _MAX_VISITED:
        obj = queue[index]
        index += 1
        root = _root(obj, modules, threads, names) if index > 1 else None
        if root is not None:
            path = [obj]
            while parent[id(path[-1])] is not None:
                path.append(parent[id(path[-1])])
            del queue[:]
            return (root, _hops(path), True)
        if depth[id(obj)] >= _MAX_DEPTH:
            continue
        referrers = gc.get_referrers(obj)
        ignore.add(id(referrers))
        for ref in referrers:
            if id(ref) in ignore or id(ref) in parent:
                continue
            parent[id(ref)] = obj
            depth[id(ref)] = depth[id(obj)] + 1
            queue.append(ref)
        del referrers
    del queue[:]
    return None if index > 1 else ("", [], False)


def _root(obj, modules, threads, names):
    if type(obj) is dict and id(obj) in modules:
        return f"module {modules[id(obj)]}"
    if isinstance(obj, type):
        return f"module {obj.__module__}"
    if isinstance(obj, types.FrameType) and id(obj) in threads:
        ident = threads[id(obj)]
        return f"thread {names.get(ident, ident)!r}"
    if type(obj).__name__ == "_lru_cache_wrapper":
        return f"lru_cache of {_callable_name(obj)}"
    return None


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
    if folded and isinstance(path[0], type) and folded[0][0].startswith("."):
        folded[0] = (path[0].__qualname__ + folded[0][0], folded[0][1])
    return folded


def _label(parent, child):
    if type(parent) is dict:
        for key, value in parent.items():
            if value is child:
                if isinstance(child, threading.Thread):
                    return f"[{child.name!r}]"  # keyed by an ident that changes every run
                return f"[{_short(key)}]"
        return "(key)"
    if isinstance(parent, (list, tuple)):
        for i, value in enumerate(parent):
            if value is child:
                return f"[{i}]"
        return ""
    if isinstance(parent, (set, frozenset)):
        return ""
    if isinstance(parent, type):
        return ".__dict__"
    if isinstance(parent, types.FrameType):
        for name, value in parent.f_locals.items():
            if value is child:
                return f"{parent.f_code.co_name}() local {name}"
        return f"{parent.f_code.co_name}()"
    if isinstance(parent, types.CellType):
        return ".cell_contents"
    for name in _ATTRIBUTES:
        try:
            if getattr(parent, name, None) is child:
                return "." + name
        except Exception:
            pass
    namespace = getattr(parent, "__dict__", None)
    if isinstance(namespace, dict):
        for name, value in namespace.items():
            if value is child:
                return "." + name
    return ""


_ATTRIBUTES = (
    "__closure__", "__defaults__", "__kwdefaults__", "__dict__", "__self__", "__func__",
    "tb_frame", "tb_next", "gi_frame", "__wrapped__",
)


def _short(value):
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def end():
    """Back to what the sampler expects: 1-frame tracing, nothing held."""
    _state.clear()
    gc.unfreeze()
    if tracemalloc.is_tracing():
        tracemalloc.stop()
    tracemalloc.start()
