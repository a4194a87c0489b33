"""leakhunt's built-in engine: collects pytest-style tests without pytest and
runs one iteration of one of them.

Rust decides which tests run, how often, and what the results mean; this module
only does what has to happen inside the interpreter, and reports what happened.
"""

import importlib
import inspect
import os
import sys
import traceback
import unittest

import _leakhunt_common as common

_items = []
# The streams every run starts with, as pytest's capture sets its own again
# before every phase: a StringIO a test left as sys.stdout would otherwise
# fill with every later test's output, and each seem to leak it.
_streams = (sys.stdout, sys.stderr)
_active_scopes = []  # [(key, teardown callable)], outermost first
_failed_scopes = {}  # scope key -> phase report of its failed setup


class _Item:
    # `owner`: the name the module gives the class, as pytest names it (a
    # state machine's TestCase is named "Machine.TestCase", its alias not).
    # `setup`, `teardown`: the names of the hooks around each run, or None
    # where the module (or class) has none: looked up once, as pytest does
    # when it collects, so that a run does not raise an AttributeError for
    # each hook that is missing.
    __slots__ = ("cls", "func", "module", "name", "owner", "setup", "teardown")

    def __init__(self, module, cls, name, func, owner=None):
        self.module = module
        self.cls = cls
        self.owner = owner
        self.name = name
        self.func = func
        holder, names = (
            (cls, ("setup_method", "teardown_method"))
            if cls is not None
            else (module, ("setup_function", "teardown_function"))
        )
        self.setup, self.teardown = (
            name if getattr(holder, name, None) is not None else None for name in names
        )


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


def _arguments(func, skip_self):
    """The arguments a call of `func` needs (pytest would pass fixtures)."""
    try:
        parameters = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return []
    if skip_self and parameters:
        parameters = parameters[1:]
    return [
        p.name
        for p in parameters
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]


def _test(item, index):
    """A collected test as Rust reads it (harness::BuiltinTest). unittest
    calls a TestCase's methods itself: they are not looked into."""
    unit = item.cls is not None and issubclass(item.cls, unittest.TestCase)
    return {
        "name": f"{item.owner}::{item.name}" if item.cls else item.name,
        "line": _line_in_module(item),
        "index": index,
        "skipped_file": None,
        "unittest": unit,
        "coroutine": not unit and inspect.iscoroutinefunction(item.func),
        "arguments": [] if unit else _arguments(item.func, skip_self=item.cls is not None),
        "hypothesis_examples": common.hypothesis_examples(item.func, item.cls),
    }


def _line_in_module(item):
    """The test's line in its own file: a method inherited from a class of
    another module is at its class here, as pytest has it; 0 when the class
    is not from this file either."""
    func = inspect.unwrap(item.func)
    if item.cls is None or getattr(func, "__module__", None) == item.module.__name__:
        return _line(item.func)
    if getattr(item.cls, "__module__", None) == item.module.__name__:
        return _line(item.cls)
    return 0


def _line(obj):
    """inspect.getsourcelines(obj)[1], without the block of source it also
    returns: tokenizing that block took 250 us a test, most of what
    collecting a file of small tests costs (and every worker collects)."""
    try:
        unwrapped = inspect.unwrap(obj)
        line = inspect.findsource(unwrapped)[1]
    except (OSError, TypeError):
        code = getattr(obj, "__code__", None)
        return code.co_firstlineno if code else 0
    return 0 if inspect.ismodule(unwrapped) else line + 1


def _is_test_class(obj, name):
    if not inspect.isclass(obj) or not getattr(obj, "__test__", True):
        return False
    if issubclass(obj, unittest.TestCase):
        return True
    return name.startswith("Test") and obj.__init__ is object.__init__


def _class_tests(cls):
    """Test method names in pytest's order: base classes first, then definition order."""
    if issubclass(cls, unittest.TestCase):
        # A TestCase with no test* methods runs its runTest, as unittest's
        # loader and pytest do (a Hypothesis state machine's TestCase).
        names = unittest.TestLoader().getTestCaseNames(cls)
        return names or (["runTest"] if callable(getattr(cls, "runTest", None)) else [])
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
    """Imports one test file. Returns {"tests": [test], "error": None}, or
    {"tests": [], "error": traceback} when the file cannot be imported
    (harness::BuiltinCollected)."""
    try:
        module = _import(path)
    except BaseException as error:  # noqa: B036 - a collection error of this file
        reason = _skip_reason(error)
        if reason is None:
            return {"tests": [], "error": format_exception(error)}
        # Skipped whole at import (unittest.SkipTest, pytest.skip with
        # allow_module_level): one test named by the file, as pytest.
        _items.append(_Item(None, None, "", None))
        skipped = {
            "name": "",
            "line": _error_line(error, path),
            "index": len(_items) - 1,
            "skipped_file": reason,
            "unittest": False,
            "coroutine": False,
            "arguments": [],
            "hypothesis_examples": None,
        }
        return {"tests": [skipped], "error": None}
    if not getattr(module, "__test__", True):
        return {"tests": [], "error": None}
    found = []
    for name, obj in list(vars(module).items()):
        if _is_test_class(obj, name):
            for method in _class_tests(obj):
                found.append(_Item(module, obj, method, getattr(obj, method), owner=name))
        elif name.startswith("test") and inspect.isfunction(obj) and getattr(obj, "__test__", True):
            found.append(_Item(module, None, name, obj))
    start = len(_items)
    _items.extend(found)
    return {"tests": [_test(item, start + i) for i, item in enumerate(found)], "error": None}


def limit_examples(index, examples):
    """Makes each later call of the Hypothesis test `index` run the same
    `examples` examples (common.limit_examples)."""
    item = _items[index]
    common.limit_examples(item.func, examples, item.cls)


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
    """The reason when `error` is a skip (unittest's or pytest's), else None."""
    if isinstance(error, unittest.SkipTest):
        return common.text(error)
    kind = type(error)
    if kind.__name__ == "Skipped" and kind.__module__.startswith("_pytest"):
        return common.text(getattr(error, "msg", error))
    return None


def _failure(error, phase):
    """What `error`, raised in `phase`, was (a phase report)."""
    reason = _skip_reason(error)
    if reason is not None:
        return common.phase_report(phase, "skipped", "Skipped", reason)
    if isinstance(error, KeyboardInterrupt):
        traceback = format_exception(error)
        return common.phase_report(
            phase, "failed", "KeyboardInterrupt", "", traceback, interrupted=True
        )
    message = common.text(error)
    return common.phase_report(
        phase, "failed", type(error).__name__, message, format_exception(error)
    )


def _call_hook(owner, names, arg):
    """Calls the first of `names` that `owner` has (see _call_optional)."""
    for name in names:
        hook = getattr(owner, name, None)
        if hook is not None:
            _call_optional(hook, arg)
            return


def _call_optional(hook, arg):
    """Calls `hook` with `arg` only when it takes an argument: pytest's
    `_call_with_optional_argument`."""
    code = getattr(hook, "__code__", None)
    if code is None:  # not a Python function: pytest would pass it
        hook(arg)
        return
    arg_count = code.co_argcount - (1 if inspect.ismethod(hook) else 0)
    if arg_count:
        hook(arg)
    else:
        hook()


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
        depth < min(len(_active_scopes), len(wanted)) and _active_scopes[depth][0] == wanted[depth]
    ):
        depth += 1
    return depth


def enter(index):
    """Sets up the module and class scopes the test needs (once per scope).
    Returns None, or the phase report of a scope's failed setup (the same
    for each test in it)."""
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
    Returns None, or the phase report of the first teardown that failed."""
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
    """Keeps the first problem unittest reports, as a phase report."""

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
        self._keep(common.phase_report("call", "skipped", "Skipped", common.text(reason)))

    def addUnexpectedSuccess(self, test):
        self._keep(common.phase_report("call", "failed", "UnexpectedSuccess", "unexpected success"))


def _run_unittest(item):
    result = _UnitResult()
    item.cls(item.name).run(result)
    return result.problem


def _run_plain(item):
    if item.cls is None:
        owner, call = item.module, item.func
    else:
        owner = item.cls()
        call = getattr(owner, item.name)
    try:
        if item.setup is not None:
            _call_optional(getattr(owner, item.setup), call)
    except BaseException as error:  # noqa: B036
        return _failure(error, "setup")
    problem = None
    try:
        call()
    except BaseException as error:  # noqa: B036
        problem = _failure(error, "call")
    try:
        if item.teardown is not None:
            _call_optional(getattr(owner, item.teardown), call)
    except BaseException as error:  # noqa: B036
        problem = problem or _failure(error, "teardown")
    return problem


def run(index):
    """Runs one iteration (setup, call, teardown) of one test.

    Returns None when it passed, else the phase report of what did not.
    Output goes to the worker's file descriptors, where the worker captures
    it, so captured output is empty here. Rust does not call it for a test
    it decided not to run (see collect).
    """
    item = _items[index]
    if sys.stdout is not _streams[0] or sys.stderr is not _streams[1]:
        sys.stdout, sys.stderr = _streams
    try:
        if item.cls is not None and issubclass(item.cls, unittest.TestCase):
            problem = _run_unittest(item)
        else:
            problem = _run_plain(item)
    except BaseException as error:  # noqa: B036 - every outcome goes back to Rust
        problem = _failure(error, "call")
    return problem
