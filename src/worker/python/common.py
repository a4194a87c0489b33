"""What the other harness modules share. Loaded first, as `_leakhunt_common`,
so that they can import it.

Each function returns what happened, as a record Rust reads by name
(src/worker/harness.rs); Rust decides what it means.
"""


def text(value):
    """str(value), which test code controls: when it raises, what traceback
    prints in its place. Strings that UTF-8 cannot hold are Rust's to cross."""
    try:
        return str(value)
    except Exception:
        return "<exception str() failed>"


def stack(frame, depth=25):
    """[(filename, line)] from `frame` outwards, innermost first."""
    frames = []
    while frame is not None and len(frames) < depth:
        frames.append((frame.f_code.co_filename, frame.f_lineno))
        frame = frame.f_back
    return frames


def traced(tb):
    """A tracemalloc traceback as [(filename, line)], innermost first."""
    return [(f.filename, f.lineno) for f in reversed(tb)] if tb is not None else []


def phase_report(
    phase,
    outcome,
    exception="",
    message="",
    traceback="",
    captured="",
    xfail=None,
    interrupted=False,
):
    """One phase of one run that did not simply pass (harness::PhaseReport).

    `phase`: "setup", "call" or "teardown". `outcome`: "failed" or "skipped"
    as pytest words it, or "passed" for a test marked xfail. `xfail`: the
    reason of the test's xfail mark when pytest applied it. `interrupted`:
    Ctrl-C (or pytest.exit) arrived.
    """
    return {
        "phase": phase,
        "outcome": outcome,
        "exception": exception,
        "message": message,
        "traceback": traceback,
        "captured": captured,
        "xfail": xfail,
        "interrupted": interrupted,
    }
