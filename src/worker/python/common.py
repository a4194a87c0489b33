"""What the other harness modules share. Loaded first, as `_leakhunt_common`,
so that they can import it.

Each function returns what happened, as a record Rust reads by name
(src/worker/harness.rs); Rust decides what it means.
"""

import functools
import sys
import types

# functools.lru_cache's wrapper type, compared by identity: reading a type's
# __name__ can raise (a class that is its own type, as h11's sentinels are).
LRU_CACHE = type(functools.lru_cache(lambda: None))


def _call(function, args):
    return function(*args)


def _caller_in_main():
    """_call with __main__'s globals: its frame is then one of __main__'s.
    Under pytest the outermost frame of every test's stack is __main__'s
    (the pytest script, or runpy's for python -m pytest), and code that
    walks up the stack to it ran off its end here: structlog's test of its
    logger-name guess, 'NoneType' object has no attribute 'f_globals'.
    __main__ gets no name. Its code has a file of its own, like the
    engines': named as this module's, it would be leakhunt's own to the
    diagnosis, and so would every allocation whose traceback reaches it."""
    main = sys.modules.get("__main__")
    if not isinstance(main, types.ModuleType):
        return _call
    code = _call.__code__.replace(co_filename="<leakhunt __main__>", co_name="call")
    return types.FunctionType(code, main.__dict__, "call")


# call_in_main(function, args): function(*args), called from __main__.
call_in_main = _caller_in_main()


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


# Hypothesis @given tests: the facts Rust decides their examples from, and
# the setting it decided. The test's settings before leakhunt changed them,
# by test function.
_hypothesis_settings = {}


def hypothesis_examples(function, cls=None):
    """The examples Hypothesis gives each call of `function` (its effective
    settings' max_examples: its own @settings, else the profile loaded when
    @given was applied; for a state machine's TestCase, the `settings` of
    `cls`, its class), or None when it is not a Hypothesis test."""
    if not getattr(function, "is_hypothesis_test", False):
        return None
    key, settings = hypothesis_settings_of(function, cls)
    settings = _hypothesis_settings.get(key, settings)
    examples = getattr(settings, "max_examples", None)
    return examples if isinstance(examples, int) else None


def hypothesis_settings_of(function, cls):
    """What holds a Hypothesis test's settings, and those settings: the
    TestCase class of a state machine (Hypothesis's runTest reads
    `self.settings`), else the @given function."""
    if cls is not None and getattr(function, "_hypothesis_state_machine_class", None):
        return cls, getattr(cls, "settings", None)
    function = getattr(function, "__func__", function)  # a classmethod's function
    return function, getattr(function, "_hypothesis_internal_use_settings", None)


def limit_examples(function, examples, cls=None):
    """Makes every later call of the Hypothesis test `function` (of class
    `cls`) run the same `examples` examples: its own settings with
    max_examples=`examples`, derandomized, without the example database,
    shrinking, targeting or a deadline, and without the two health checks
    that repeating a test under leakhunt trips (too_slow,
    differing_executors)."""
    from hypothesis import HealthCheck, Phase, settings

    key, current = hypothesis_settings_of(function, cls)
    original = _hypothesis_settings.setdefault(key, current)
    suppressed = set(original.suppress_health_check)
    for name in ("too_slow", "differing_executors"):  # older versions lack the second
        check = getattr(HealthCheck, name, None)
        if check is not None:
            suppressed.add(check)
    limited = settings(
        parent=original,
        max_examples=examples,
        derandomize=True,
        database=None,
        phases=(Phase.explicit, Phase.generate),
        deadline=None,
        suppress_health_check=sorted(suppressed, key=lambda check: check.value),
    )
    if key is cls:
        cls.settings = limited
    elif hasattr(key, "_hypothesis_internal_settings_applied"):
        # The test has its own @settings, and Hypothesis refuses a second
        # @settings: the attribute the decorator sets is set directly.
        key._hypothesis_internal_use_settings = limited
    else:
        limited(key)
