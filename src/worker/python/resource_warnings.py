"""Records the ResourceWarnings one run raises (a file, socket or event loop
dropped unclosed), with where the resource was opened.

begin() and end() bracket every run (not nested). Other warnings are
handed back to Python's own display untouched once the run is over.
"""

import gc
import sys
import tracemalloc
import warnings

import _leakhunt_common as common

# What the run warned, while a run is on; None between runs.
_records = None
# What begin() replaced, put back by end().
_saved = None
# id(socket) -> where it was made, innermost frame first, during a run.
_sockets = {}
# warnings.simplefilter("always", ResourceWarning), as the filter it adds.
_ALWAYS = ("always", None, ResourceWarning, None, 0)


def _audit(event, args):
    """Notes where each socket is made: tracemalloc cannot tell for a
    socket.socket (its traceback names the test's caller). A no-op outside runs."""
    if _records is None or event != "socket.__new__" or not args:
        return
    _sockets[id(args[0])] = common.stack(sys._getframe(1))


sys.addaudithook(_audit)


def begin():
    """What warnings.catch_warnings(record=True) and then
    warnings.simplefilter("always", ResourceWarning) do, without their
    Python overhead (9 us a run): the filters are a new list for the run,
    which end() replaces with the old one, so whatever a test does to them
    is undone; every warning is recorded, not shown. Changing the filters
    also has the warnings module empty each module's __warningregistry__ at
    its next warning, which keeps the registries from growing run after run
    (the sampler does not clear them)."""
    global _records, _saved
    module = warnings
    filters = module.filters
    _saved = (filters, module.showwarning, module._showwarnmsg_impl)
    if _ALWAYS in filters:
        filters = [f for f in filters if f != _ALWAYS]
    module.filters = [_ALWAYS, *filters]
    module._filters_mutated()
    _records = []
    module._showwarnmsg_impl = _records.append
    module.showwarning = module._showwarning_orig


def record(message):
    """A warning someone else caught during the run (pytest's warnings
    plugin records every warning of a test phase before ours can)."""
    if _records is not None and issubclass(message.category, ResourceWarning):
        _records.append(message)


def end():
    """The ResourceWarnings of the run (harness::Warned): each one's message,
    where tracemalloc saw its resource allocated and where the audit hook saw
    it made when it is a socket, innermost frame first, and where it was
    warned about."""
    global _records, _saved
    if _records is None:
        return []
    # An event loop dropped unclosed sits in a reference cycle: only a
    # collection finalises it. The young generations hold what the run made.
    gc.collect(1)
    records, _records = _records, None
    module = warnings
    module.filters, module.showwarning, module._showwarnmsg_impl = _saved
    _saved = None
    module._filters_mutated()
    if not records:
        if _sockets:
            _sockets.clear()
        return []
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
    _sockets.clear()
    return found
