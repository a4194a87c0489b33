"""Records the ResourceWarnings one run raises (a file, socket or event loop
dropped unclosed), with where the resource was opened.

begin() and end() bracket every run. Other warnings are handed back to
Python's own display untouched once the run is over.
"""

import gc
import tracemalloc
import warnings

_active = []


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
        tb = tracemalloc.get_object_traceback(record.source) if record.source is not None else None
        frames = [(f.filename, f.lineno) for f in reversed(tb)] if tb is not None else []
        if not frames:
            frames = [(record.filename, record.lineno)]
        found.append((str(record.message), frames))
    records.clear()
    return found
