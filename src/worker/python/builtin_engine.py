"""leakhunt's built-in engine: collects pytest-style tests without pytest and
runs one iteration of one of them.

Rust decides which tests run, how often, and what the results mean; this module
only does what has to happen inside the interpreter.
"""

import importlib
import inspect
import os
import sys
import traceback
import unittest

_items = []
_active_scopes = []  # [(key, teardown callable)], outermost first
_failed_scopes = {}  # scope key -> failure tuple of its setup


class _Item:
    __slots__ = ("module", "cls", "name", "func", "problem")

    def __init__(self, module, cls, name, func, problem):
        self.module = module
        self.cls = cls
        self.name = name
        self.func = func
        self.problem = problem


def _module_name(path):
    """pytest's "prepend" import mode: the first folder upwards without an
    __init__.py goes on sys.path and the module is named from there."""
    folder, filename = os.path.split(path)
    parts = [os.path.splitext(filename)[0]]
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        folder, package = os.path.split(folder)
        parts.append(package)
    return folder, ".".join(reversed(parts))


def _import(path):
    folder, name = _module_name(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    importlib.invalidate_caches()
    module = importlib.import_module(name)
    found = os.path.splitext(os.path.abspath(getattr(module, "__file__", "") or ""))[0]
    if found != os.path.splitext(path)[0]:
        raise ImportError(
            f"import file mismatch: imported module {name!r} has this __file__ "
            f"attribute:\n  {module.__file__}\nwhich is not the same as the test "
            f"file we want to collect:\n  {path}\nHINT: remove __pycache__ / .pyc "
            "files and/or use a unique basename for your test file modules"
        )
    return module


def _problem(func, skip_self):
    """Why the built-in engine cannot call this test, or None."""
    if inspect.iscoroutinefunction(func):
        return ("skip", "async def functions are not natively supported")
    try:
        parameters = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return None
    if skip_self and parameters:
        parameters = parameters[1:]
    needed = [
        p.name
        for p in parameters
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if needed:
        names = ", ".join(needed)
        return (
            "error",
            f"test takes arguments ({names}): these are pytest fixtures, and the "
            "built-in engine cannot provide them; this test needs pytest",
        )
    return None


def _line(obj):
    try:
        return inspect.getsourcelines(obj)[1]
    except (OSError, TypeError):
        code = getattr(obj, "__code__", None)
        return code.co_firstlineno if code else 0


def _is_test_class(obj, name):
    if not inspect.isclass(obj) or not getattr(obj, "__test__", True):
        return False
    if issubclass(obj, unittest.TestCase):
        return True
    return name.startswith("Test") and obj.__init__ is object.__init__


def _class_tests(cls):
    """Test method names in pytest's order: base classes first, then definition order."""
    if issubclass(cls, unittest.TestCase):
        return unittest.TestLoader().getTestCaseNames(cls)
    seen = set()
    per_class = []
    for klass in cls.__mro__:
        names = []
        for name, value in list(vars(klass).items()):
            if name in seen or not name.startswith("test"):
                continue
            seen.add(name)
            if callable(getattr(cls, name, None)) and getattr(value, "__test__", True):
                names.append(name)
        per_class.append(names)
    return [name for names in reversed(per_class) for name in names]


def collect(path):
    """Imports one test file. Returns ([(qualified name, line, index)], None), or
    ([], traceback) when the file cannot be imported."""
    try:
        module = _import(path)
    except BaseException as error:  # noqa: B036 - a collection error of this file
        reason = _skip_reason(error)
        if reason is None:
            return [], format_exception(error)
        # Skipped whole at import (unittest.SkipTest, pytest.skip with
        # allow_module_level): one skipped test named by the file, as pytest.
        _items.append(_Item(None, None, "", None, ("skip", reason)))
        return [("", _error_line(error, path), len(_items) - 1)], None
    if not getattr(module, "__test__", True):
        return [], None
    found = []
    for name, obj in list(vars(module).items()):
        if _is_test_class(obj, name):
            unit = issubclass(obj, unittest.TestCase)
            for method in _class_tests(obj):
                func = getattr(obj, method)
                problem = None if unit else _problem(func, skip_self=True)
                found.append(_Item(module, obj, method, func, problem))
        elif name.startswith("test") and inspect.isfunction(obj) and getattr(obj, "__test__", True):
            found.append(_Item(module, None, name, obj, _problem(obj, skip_self=False)))
    start = len(_items)
    _items.extend(found)
    tests = [
        (
            f"{item.cls.__name__}::{item.name}" if item.cls else item.name,
            _line(item.func),
            start + i,
        )
        for i, item in enumerate(found)
    ]
    return tests, None


def _is_plumbing(frame):
    """Frames of the harness, of the import machinery and of unittest (which
    marks its modules with __unittest, as its own reports hide them)."""
    module_globals = frame.f_globals
    return (
        module_globals.get("__name__") == __name__
        or module_globals.get("__unittest", False)
        or module_globals.get("__name__") in ("importlib", "importlib._bootstrap")
        or frame.f_code.co_filename.startswith("<frozen importlib")
    )


def format_exception(error):
    """The traceback of `error` without frames that are not the user's."""
    frames = []
    tb = error.__traceback__
    while tb is not None:
        if not _is_plumbing(tb.tb_frame):
            frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    summary = traceback.StackSummary.extract(frames)
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += summary.format()
    lines += traceback.format_exception_only(type(error), error)
    return "".join(lines)


def _error_line(error, path):
    """The line of `path` the exception was raised from (0 when unknown)."""
    line = 0
    for frame, number in traceback.walk_tb(error.__traceback__):
        if os.path.abspath(frame.f_code.co_filename) == os.path.abspath(path):
            line = number
    return line


def _skip_reason(error):
    if isinstance(error, unittest.SkipTest):
        return _text(error)
    kind = type(error)
    if kind.__name__ == "Skipped" and kind.__module__.startswith("_pytest"):
        return _text(getattr(error, "msg", error))
    return None


def _failure(error, phase):
    reason = _skip_reason(error)
    if reason is not None:
        return ("skipped", "Skipped", reason, "", phase, "")
    if isinstance(error, KeyboardInterrupt):
        return ("interrupted", "KeyboardInterrupt", "", format_exception(error), phase, "")
    return ("failed", type(error).__name__, _text(error), format_exception(error), phase, "")


def _text(value):
    """str(value), which test code controls: when it raises, what traceback
    prints in its place. Strings that UTF-8 cannot hold are Rust's to cross."""
    try:
        return str(value)
    except Exception:
        return "<exception str() failed>"


def _call_hook(owner, names, arg):
    """Calls the first of `names` that `owner` has, with `arg` only when the
    hook takes an argument: pytest's `_call_with_optional_argument`."""
    for name in names:
        hook = getattr(owner, name, None)
        if hook is None:
            continue
        code = getattr(hook, "__code__", None)
        if code is None:  # not a Python function: pytest would pass it
            hook(arg)
            return
        arg_count = code.co_argcount - (1 if inspect.ismethod(hook) else 0)
        if arg_count:
            hook(arg)
        else:
            hook()
        return


def _scope_keys(item):
    if item.module is None:  # a file skipped at import has no scopes
        return []
    keys = [("module", item.module)]
    if item.cls is not None:
        keys.append(("class", item.cls))
    return keys


def _setup_scope(key):
    kind, owner = key
    if kind == "module":
        _call_hook(owner, ("setUpModule", "setup_module"), owner)
        return lambda: _call_hook(owner, ("tearDownModule", "teardown_module"), owner)
    if issubclass(owner, unittest.TestCase):
        if getattr(owner, "__unittest_skip__", False):
            return lambda: None
        owner.setUpClass()

        def teardown():
            try:
                owner.tearDownClass()
            finally:
                owner.doClassCleanups()

        return teardown
    _call_hook(owner, ("setup_class",), owner)
    return lambda: _call_hook(owner, ("teardown_class",), owner)


def _shared_depth(wanted):
    depth = 0
    while (
        depth < min(len(_active_scopes), len(wanted))
        and _active_scopes[depth][0] == wanted[depth]
    ):
        depth += 1
    return depth


def enter(index):
    """Sets up the module and class scopes the test needs (once per scope).
    Returns None, or the failure of a scope's setup (reported on each test in it)."""
    wanted = _scope_keys(_items[index])
    for key in wanted[_shared_depth(wanted) :]:
        if key in _failed_scopes:
            return _failed_scopes[key]
        try:
            teardown = _setup_scope(key)
        except BaseException as error:  # noqa: B036 - reported, never swallowed
            _failed_scopes[key] = _failure(error, "setup")
            return _failed_scopes[key]
        _active_scopes.append((key, teardown))
    return None


def leave(next_index):
    """Tears down the scopes the next test (None: no test) does not share.
    Returns None, or the first teardown failure."""
    wanted = [] if next_index is None else _scope_keys(_items[next_index])
    depth = _shared_depth(wanted)
    first = None
    while len(_active_scopes) > depth:
        _, teardown = _active_scopes.pop()
        try:
            teardown()
        except BaseException as error:  # noqa: B036
            first = first or _failure(error, "teardown")
    return first


class _UnitResult(unittest.TestResult):
    """Keeps the first problem unittest reports, as the harness's failure tuple."""

    def __init__(self):
        super().__init__()
        self.problem = None

    def _keep(self, problem):
        if self.problem is None:
            self.problem = problem

    def addError(self, test, err):
        self._keep(_failure(err[1], "call"))

    def addFailure(self, test, err):
        self._keep(_failure(err[1], "call"))

    def addSubTest(self, test, subtest, err):
        if err is not None:
            self._keep(_failure(err[1], "call"))

    def addSkip(self, test, reason):
        self._keep(("skipped", "Skipped", _text(reason), "", "call", ""))

    def addUnexpectedSuccess(self, test):
        self._keep(("failed", "UnexpectedSuccess", "unexpected success", "", "call", ""))


def _run_unittest(item):
    result = _UnitResult()
    item.cls(item.name).run(result)
    return result.problem


def _run_plain(item):
    if item.cls is None:
        owner, call, hook_arg = item.module, item.func, item.func
        setup, teardown = "setup_function", "teardown_function"
    else:
        owner = item.cls()
        call = hook_arg = getattr(owner, item.name)
        setup, teardown = "setup_method", "teardown_method"
    try:
        _call_hook(owner, (setup,), hook_arg)
    except BaseException as error:  # noqa: B036
        return _failure(error, "setup")
    problem = None
    try:
        call()
    except BaseException as error:  # noqa: B036
        problem = _failure(error, "call")
    try:
        _call_hook(owner, (teardown,), hook_arg)
    except BaseException as error:  # noqa: B036
        problem = problem or _failure(error, "teardown")
    return problem


def run(index):
    """Runs one iteration (setup, call, teardown) of one test.

    Returns None when it passed, else (outcome, exception type, message,
    traceback, phase, captured output) with outcome "failed", "skipped",
    "error" or "interrupted". Output goes to the worker's file descriptors,
    where the worker captures it, so captured output is empty here.
    """
    item = _items[index]
    if item.problem is not None:
        kind, text = item.problem
        return ("skipped" if kind == "skip" else "error", "", text, "", "setup", "")
    try:
        if item.cls is not None and issubclass(item.cls, unittest.TestCase):
            problem = _run_unittest(item)
        else:
            problem = _run_plain(item)
    except BaseException as error:  # noqa: B036 - every outcome goes back to Rust
        problem = _failure(error, "call")
    return problem
