"""Records the ResourceWarnings one run raises (a file, socket or event loop
dropped unclosed), with where the resource was opened.

begin() and end() bracket every run. Other warnings are handed back to
Python's own display untouched once the run is over.
"""

import gc
import sys
import tracemalloc
import warnings

import _leakhunt_common as common

_active = []
# id(socket) -> where it was made, innermost frame first, during a run.
_sockets = {}


def _audit(event, args):
    """Notes where each socket is made: tracemalloc cannot tell for a
    socket.socket (its traceback names the test's caller). A no-op outside runs."""
    if not _active or event != "socket.__new__" or not args:
        return
    _sockets[id(args[0])] = common.stack(sys._getframe(1))


sys.addaudithook(_audit)


def begin():
    catcher = warnings.catch_warnings(record=True)
    records = catcher.__enter__()
    warnings.simplefilter("always", ResourceWarning)
    _active.append((catcher, records))


def record(message):
    """A warning someone else caught during the run (pytest's warnings
    plugin records every warning of a test phase before ours can)."""
    if _active and issubclass(message.category, ResourceWarning):
        _active[-1][1].append(message)


def end():
    """The ResourceWarnings of the run (harness::Warned): each one's message,
    where tracemalloc saw its resource allocated and where the audit hook saw
    it made when it is a socket, innermost frame first, and where it was
    warned about."""
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
        found.append(
            {
                "message": str(record.message),
                "allocated": common.traced(tb),
                "socket": _sockets.get(id(source)) if source is not None else None,
                "warned": (record.filename, record.lineno),
            }
        )
    records.clear()
    _sockets.clear()
    return found
