"""Records the ResourceWarnings one run raises (a file, socket or event loop
dropped unclosed), with where the resource was opened.

begin() and end() bracket every run. Other warnings are handed back to
Python's own display untouched once the run is over.
"""

import gc
import sys
import tracemalloc
import warnings

_active = []
# id(socket) -> where it was made, innermost frame first, during a run.
_sockets = {}


def _audit(event, args):
    """Notes where each socket is made: tracemalloc cannot tell for a
    socket.socket (its traceback names the test's caller). A no-op outside runs."""
    if not _active or event != "socket.__new__" or not args:
        return
    frame = sys._getframe(1)
    stack = []
    while frame is not None and len(stack) < 25:
        stack.append((frame.f_code.co_filename, frame.f_lineno))
        frame = frame.f_back
    _sockets[id(args[0])] = stack


sys.addaudithook(_audit)


def begin():
    catcher = warnings.catch_warnings(record=True)
    records = catcher.__enter__()
    warnings.simplefilter("always", ResourceWarning)
    _active.append((catcher, records))


def end():
    """[(message, [(filename, line)] where the resource was opened, innermost first)]."""
    if not _active:
        return []
    catcher, records = _active.pop()
    # An event loop dropped unclosed sits in a reference cycle: only a
    # collection finalises it. The young generations hold what the run made.
    gc.collect(1)
    catcher.__exit__(None, None, None)
    found = []
    for record in records:
        if not issubclass(record.category, ResourceWarning):
            warnings._showwarnmsg(record)
            continue
        source = record.source
        tb = tracemalloc.get_object_traceback(source) if source is not None else None
        frames = [(f.filename, f.lineno) for f in reversed(tb)] if tb is not None else []
        if source is not None and id(source) in _sockets:
            frames = _sockets[id(source)]
        if not frames:
            frames = [(record.filename, record.lineno)]
        found.append((str(record.message), frames))
    records.clear()
    _sockets.clear()
    return found
