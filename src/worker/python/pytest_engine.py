"""leakhunt's pytest engine: pytest's own collection and run protocol, driven
one run of one test at a time from Rust.

pytest.main() runs a whole session in one call, and leakhunt needs control
back after every run. So this module takes the steps of pytest's own
wrap_session() (configure, sessionstart, collection, ..., sessionfinish,
unconfigure) as separate calls, and runs each item through the
pytest_runtest_protocol hook, so that every plugin's wrappers (warnings
filters, capture, logging, assertion rewriting) apply as under pytest.

It reports what pytest's reports say, as records Rust reads by name
(src/worker/harness.rs), and decides nothing.
"""

import io
import os
import sys
import unittest

import pytest
from _pytest._io import TerminalWriter
from _pytest.config import (
    ConftestImportFailure,
    UsageError,
    _prepareconfig,
    create_terminal_writer,
)
from _pytest.main import Session
from _pytest.runner import runtestprotocol
from _pytest.warnings import warning_record_to_str

import _leakhunt_common as common

_state = {}  # "config", "session", "hook history", "hook proxies"
_items = []
_doctest_globals = {}  # item index -> the names its doctest starts with
_doctest_tallies = {}  # item index -> its doctest runner's tallies before its first run
_first_runs = {}  # item index -> its first run's [(stats key, count)], [warning text]
_parameters = {}  # item index -> {name: value as collected} for mutable values


class _Plugin:
    """leakhunt's plugin object: it records collection problems and runs each
    item's protocol with log=False, so that no report reaches the terminal
    reporter, junitxml or the session's failure count, which would otherwise
    keep every report of every run (and show up as growth)."""

    def __init__(self):
        self.collect_errors = []
        self.collected = []  # (node id, skip reason or None), in collection order
        self.deselected = 0
        self.reports = []
        self.exceptions = {}
        self.subtest_failure = None
        self.interrupt = None  # the phase report of a Ctrl-C a plugin wrapped
        self.subtests = {}  # "subtests passed" -> count, in the current run
        self.warnings = []  # the current run's other warnings, as pytest shows them
        self.fixture_defs = None  # the fixtures the current run's requests resolved

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config):
        config.addinivalue_line(
            "markers",
            "leakhunt(allow, reason): leakhunt accepts these leaking signals for this test",
        )
        _reporter()  # collect() put the config in _state before configuring

    def pytest_collectreport(self, report):
        if report.failed:
            self.collect_errors.append((report.nodeid, report.longreprtext))
        else:
            # A file skipped as a whole (importorskip, allow_module_level)
            # counts as one skipped test under pytest.
            self.collected.append((report.nodeid, _skip_reason(report) if report.skipped else None))

    def pytest_runtest_logreport(self, report):
        # With log=False only reports that a test sends itself come here:
        # subtests (unittest's subTest, pytest's subtests fixture). Counted
        # as pytest -v counts them (plain pytest leaves passed ones out).
        if not report.failed and report.when == "call":
            category = f"subtests {report.outcome}"
            self.subtests[category] = self.subtests.get(category, 0) + 1
        if report.failed and self.subtest_failure is None:
            crash = getattr(report.longrepr, "reprcrash", None)
            message = getattr(crash, "message", "") or report.longreprtext
            kind, _, text = message.partition(": ")
            self.subtest_failure = common.phase_report(
                "call", "failed", kind, text, _longrepr(report)
            )

    def pytest_warning_recorded(self, warning_message, when, nodeid, location):
        """pytest's warnings plugin catches each test phase's warnings itself:
        its ResourceWarnings go to leakhunt's watcher, which places them, and
        the others are kept as pytest's warnings summary shows them."""
        if when != "runtest":
            return  # collection's and configuration's: the reporter files them
        watcher = sys.modules.get("_leakhunt_resource_warnings")
        if watcher is not None and issubclass(warning_message.category, ResourceWarning):
            watcher.record(warning_message)
        else:
            self.warnings.append(warning_record_to_str(warning_message))

    @pytest.hookimpl(tryfirst=True)
    def pytest_fixture_setup(self, fixturedef, request):
        # A fixture requested by name as the test runs (getfixturevalue, as
        # pytest-asyncio requests its loop) is not in the item's closure; the
        # dict of what this run's requests resolved has it and what it uses.
        self.fixture_defs = getattr(request, "_fixture_defs", None)

    def pytest_deselected(self, items):
        self.deselected += len(items)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        self.reports = runtestprotocol(item, nextitem=nextitem, log=False)
        return True

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        # Only strings: keeping the exception would keep the run's frames alive.
        if call.excinfo is not None:
            self.exceptions[call.when] = (call.excinfo.typename, common.text(call.excinfo.value))
            interrupt = _interrupt_in(call.excinfo.value)
            if interrupt is not None and self.interrupt is None:
                self.interrupt = _interrupted(interrupt)
        return report


class _Sink:
    """A file that keeps nothing."""

    def write(self, text):
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False


_plugin = _Plugin()


def _same_instance(item):
    """pytest makes a fresh instance of a test's class for each run of an
    item, as unittest promises, and so does leakhunt, except for Hypothesis
    tests: Hypothesis requires a @given method to be called on the same
    instance every time (its differing_executors health check), which under
    pytest is true because an item runs once. Those keep their first instance."""
    cls = getattr(item, "cls", None)
    make = getattr(item, "_getinstance", None)
    function = getattr(cls, getattr(item, "originalname", ""), None)
    if make is None or not getattr(function, "is_hypothesis_test", False):
        return
    # Collection may have made the first one already (plugins read item.obj).
    kept = [vars(item)["_instance"]] if "_instance" in vars(item) else []

    def get():
        if not kept:
            kept.append(make())
        return kept[0]

    item._getinstance = get


def collect(args):
    """Configures pytest with `args` and collects. Returns the items, the
    collection errors, the deselected count and the rootdir
    (harness::PytestCollected). Raises UsageError for what pytest calls a
    usage error."""
    os.environ["PYTEST_VERSION"] = pytest.__version__
    try:
        config = _prepareconfig(list(args), plugins=[_plugin])
    except ConftestImportFailure as error:
        raise UsageError(
            f"ImportError while loading conftest '{error.path}'.\n"
            f"{type(error.cause).__name__}: {error.cause}"
        ) from None
    _refuse_what_cannot_work(config)
    _time_no_benchmarks(config)
    _read_every_ini_value(config)
    _keep_tmp_path_per_test()
    session = Session.from_config(config)
    _state["config"], _state["session"] = config, session
    config._do_configure()
    config.hook.pytest_sessionstart(session=session)
    try:
        config.hook.pytest_collection(session=session)
    except session.Failed:
        # -x or --maxfail (lz4's addopts have -x) after as many collection
        # errors: pytest stops collecting there and runs nothing, and so
        # does leakhunt, which reports the errors (pytest's wrap_session
        # catches this too). What was collected was never filtered by -k.
        session.items = []
    _state["hook history"] = config.hook.pytest_warning_recorded._call_history
    reporter = _reporter()
    filed = reporter.stats.get("warnings", []) if reporter is not None else []
    _state["hook proxies"] = _HookProxies(session)
    described = []
    items = _with_skipped_files(session.items, _plugin.collected)
    for index, item in enumerate(items, start=len(_items)):
        if isinstance(item, _SkippedFile):
            described.append(_described(item.nodeid, item.nodeid.split("::")[0], None, item.nodeid))
            continue
        _same_instance(item)
        # doctest clears a doctest's globals after it runs (clear_globs): a
        # second run would find its module's names gone. Kept to put back.
        dtest = getattr(item, "dtest", None)
        if dtest is not None:
            _doctest_globals[index] = dict(dtest.globs)
        path, line = _location(item)
        examples = common.hypothesis_examples(_test_function(item), getattr(item, "cls", None))
        described.append(_described(item.nodeid, path, line, item.name, _marker(item), examples))
    _items.extend(items)
    return {
        "items": described,
        "errors": [{"path": path, "message": text} for path, text in _plugin.collect_errors],
        "deselected": _plugin.deselected,
        "rootdir": str(config.rootpath),
        "warnings": [
            {"location": report.get_location(config) or "", "message": report.message}
            for report in filed
        ],
    }


def _read_every_ini_value(config):
    """Reads each option the ini file sets that pytest knows: pytest checks
    a value's type when something first reads it, and pytest 9.2's subtests
    plugin reads `verbosity_subtests` as a test reports. psutil's
    `verbosity_subtests = "0"` stops plain pytest with a usage error before
    any test passes; under leakhunt, every test with subtests failed with it
    instead, and the others passed."""
    known = getattr(getattr(config, "_parser", None), "_inidict", {})
    # `inicfg` up to pytest 8; pytest 9 warns that it is deprecated.
    values = getattr(config, "_inicfg", None)
    for name in list(values if values is not None else getattr(config, "inicfg", {})):
        if name in known:
            config.getini(name)


def _keep_tmp_path_per_test():
    """Gives every run of a test the directory its first run got, emptied.

    pytest's tmp_path is a new numbered directory per call: under leakhunt,
    each run of a test saw another path (test_x0, test_x1, ...), kept on
    disk, and whatever the test did with the path's text grew with it. glibc
    keeps every value ever given to setenv: `monkeypatch.setenv("HOME",
    str(tmp_path))` alone was +128 B of malloc a run, a leak. One test run
    by plain pytest sees a fresh, empty `test_x0`; so does every run now.
    A directory that cannot be emptied is left, and the run gets a new one.
    """
    try:
        from _pytest import tmpdir
        from _pytest.pathlib import rm_rf
    except ImportError:  # another pytest: its tmp_path as it is
        return
    make = getattr(tmpdir, "_mk_tmp", None)
    if make is None:
        return
    kept = {}  # the current test's node id -> its directory

    def _mk_tmp(request, factory):
        nodeid = request.node.nodeid
        path = kept.get(nodeid)
        if path is not None:
            try:
                rm_rf(path)
                path.mkdir(mode=0o700)
            except OSError:
                path = None
        if path is None:
            path = make(request, factory)
        kept.clear()
        kept[nodeid] = path
        return path

    tmpdir._mk_tmp = _mk_tmp


def _location(item):
    """Where `item` is in the file of its node id: pytest locates a method
    inherited from a class in another module there, and the test is then
    at its class in this file (`class TestA(Cases):`). The line is None
    where pytest's is not one (-1: a class Hypothesis made)."""
    path, line, _ = item.location
    line = line if type(line) is int and line >= 0 else None
    file = item.nodeid.split("::")[0]
    if path == file:
        return path, line
    cls = item.getparent(pytest.Class)
    try:
        where, class_line, _ = cls.reportinfo()
    except Exception:  # no class, or one pytest cannot locate
        return path, line
    if type(class_line) is not int or class_line < 0 or os.fspath(where) != os.fspath(item.path):
        return path, line
    return file, class_line


def _described(nodeid, path, line, name, marker=None, examples=None):
    """One item as Rust reads it (harness::PytestItem); `line` is 0-based;
    `examples`: Hypothesis's examples per call of a @given test."""
    return {
        "nodeid": nodeid,
        "path": path,
        "line": line,
        "name": name,
        "marker": marker,
        "hypothesis_examples": examples,
    }


def _test_function(item):
    """The function an item calls, as its class or module holds it (a
    parametrized test's items share it), or None."""
    name = getattr(item, "originalname", None)
    if not name:
        return None
    owner = getattr(item, "cls", None) or getattr(item, "module", None)
    return getattr(owner, name, None) if owner is not None else None


def limit_examples(index, examples):
    """Makes each later call of the Hypothesis test of item `index` run the
    same `examples` examples (common.limit_examples)."""
    item = _items[index]
    common.limit_examples(_test_function(item), examples, getattr(item, "cls", None))


def pins():
    """For each collected item, the node id of the module or else the class
    whose module- or class-scoped fixtures it uses, or None."""
    return [_pin(item) for item in _items]


def _pin(item):
    info = getattr(item, "_fixtureinfo", None)
    scopes = {
        str(defs[-1].scope)
        for name, defs in getattr(info, "name2fixturedefs", {}).items()
        if defs and not _holds_nothing(name, getattr(item, "cls", None))
    }
    for scope, kind in (("module", pytest.Module), ("class", pytest.Class)):
        node = item.getparent(kind) if scope in scopes else None
        if node is not None:
            return node.nodeid
    return None


def _holds_nothing(fixture, cls):
    """Whether a fixture pytest gives every unittest.TestCase class keeps
    nothing its tests share: its skip, or its setUpClass and tearDownClass
    when the class inherits both from TestCase (idna's 6,329 tests in one
    class then go to both workers)."""
    if fixture.startswith("_unittest_skip_fixture_"):
        return True
    if not fixture.startswith("_unittest_setUpClass_fixture_") or cls is None:
        return False
    return all(
        getattr(getattr(cls, name, None), "__func__", None)
        is getattr(unittest.TestCase, name).__func__
        for name in ("setUpClass", "tearDownClass")
    )


class _SkippedFile:
    """A file (or other collector) pytest skipped whole: one skipped test."""

    def __init__(self, nodeid, reason):
        self.nodeid = nodeid
        self.reason = reason


def _with_skipped_files(items, collected):
    """`items` with the skipped collectors among them, where pytest's
    collection met them."""
    order = {nodeid: position for position, (nodeid, _) in enumerate(collected)}
    skipped = [
        (position, _SkippedFile(nodeid, reason))
        for position, (nodeid, reason) in enumerate(collected)
        if reason is not None
    ]
    merged = []
    for item in items:
        position = order.get(item.nodeid.split("::")[0], len(collected))
        while skipped and skipped[0][0] < position:
            merged.append(skipped.pop(0)[1])
        merged.append(item)
    merged.extend(placeholder for _, placeholder in skipped)
    return merged


def _refuse_what_cannot_work(config):
    """Options that would take the runs out of leakhunt's hands."""
    option = config.option
    if getattr(option, "usepdb", False) or getattr(option, "trace", False):
        raise UsageError(
            "--pdb/--trace need a terminal and leakhunt's workers have none: "
            "debug the failing test under pytest itself"
        )
    if getattr(option, "numprocesses", None) or getattr(option, "dist", "no") != "no":
        workers = getattr(option, "numprocesses", None)
        if workers and _names_xdist(config.invocation_params.args):
            raise UsageError(
                "pytest-xdist's -n/--dist cannot run under leakhunt: leave them out "
                "and use leakhunt's own -n (before the --)"
            )
        # From the suite's addopts (aio-libs' `--numprocesses=auto`), made
        # for plain pytest runs, or turned off after the -- (`-n 0` against
        # an addopts' `--dist loadfile`): leakhunt's -n spreads the tests.
        # Nothing called pytest_cmdline_main, where xdist turns -n into
        # workers, and with no distribution mode its pytest_configure
        # registers none.
        option.numprocesses = None
        option.dist = "no"
        option.tx = []


def _time_no_benchmarks(config):
    """pytest-benchmark's `benchmark` fixture calls its function once, untimed,
    as under `--benchmark-disable` (which the plugin turns on by itself
    under xdist): timed, each run appended its statistics to the session's
    list, and every benchmark of bidict's suite was LEAKED, at 0.8 s a run.
    Not with `--benchmark-only`, which the plugin refuses beside it."""
    option = config.option
    if hasattr(option, "benchmark_disable") and not getattr(option, "benchmark_only", False):
        option.benchmark_disable = True
        option.benchmark_enable = False


# pytest-xdist's options that would take the tests to its own workers.
_XDIST_OPTIONS = ("-n", "--numprocesses", "--dist", "--tx", "-d")


def _names_xdist(args):
    """Whether pytest's command line itself (what came after leakhunt's --)
    gives one of pytest-xdist's options, as `-n 4`, `-n4` or `--dist=load`."""
    return any(
        arg in _XDIST_OPTIONS or arg.startswith(("-n", "--numprocesses=", "--dist=", "--tx="))
        for arg in args
    )


def _marker(item):
    """The `@pytest.mark.leakhunt(allow=[...], reason=...)` of a test, or None
    (harness::LeakhuntMarker); `allow` is None when the mark names no
    signals. leakhunt checks them."""
    marker = item.get_closest_marker("leakhunt")
    if marker is None:
        return None
    if "allow" in marker.kwargs:
        allow = marker.kwargs["allow"]
    elif marker.args:
        allow = marker.args[0]
    else:
        allow = None
    if isinstance(allow, str):
        allow = [allow]
    signals = None if allow is None else [str(signal) for signal in allow]
    return {"allow": signals, "reason": marker.kwargs.get("reason")}


def _skip_reason(report):
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def _longrepr(report):
    """The failure as pytest's terminal shows it: longreprtext without the
    strip() that drops the first line's indentation and the blank line
    before it."""
    out = io.StringIO()
    writer = TerminalWriter(out)
    writer.hasmarkup = False
    report.toterminal(writer)
    return out.getvalue().rstrip()


def _captured(report):
    return "".join(f"--- {title} ---\n{content}\n" for title, content in report.sections)


def _reported(reports, exceptions):
    """The phase report of the first of `reports` that did not simply pass
    (a test marked xfail that passed did not), or None."""
    for report in reports:
        xfail = getattr(report, "wasxfail", None)
        if report.passed and xfail is None:
            continue
        if report.failed:
            kind, message = exceptions.get(report.when, ("", report.longreprtext))
            return common.phase_report(
                report.when,
                "failed",
                kind,
                message,
                _longrepr(report),
                _captured(report),
                xfail=xfail,
            )
        if xfail is not None:
            return common.phase_report(report.when, report.outcome, xfail=xfail)
        return common.phase_report(report.when, "skipped", "Skipped", _skip_reason(report))
    return None


def _interrupted(error):
    """The phase report of a Ctrl-C (or pytest.exit) during a run."""
    return common.phase_report(
        "call", "failed", type(error).__name__, common.text(error), interrupted=True
    )


def _interrupt_in(error):
    """The KeyboardInterrupt (or pytest.exit) that `error` was raised while
    handling, if any: a plugin's old-style hookwrapper that re-raises in its
    teardown turns Ctrl-C into PluggyTeardownRaisedWarning, an exception
    under filterwarnings=error, and pytest then reports a failure."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, (KeyboardInterrupt, pytest.exit.Exception)):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _drop_finished_finalizers(item):
    """A function-scoped fixture that uses a fixture of a higher scope leaves
    its finish() on that fixture's finalizer list, once per test under pytest;
    once per run here. Those of fixtures already torn down are no-ops: they
    go, so that the list does not grow with the runs. So does a class-scoped
    fixture a test outside any class gets per test (pytest-django's
    autouse _django_setup_unittest: every test function of a Django project
    was LEAKED at +6 objects a run). Those the item names, and those its run
    requested by name."""
    fixturedefs = [d for defs in item._fixtureinfo.name2fixturedefs.values() for d in defs]
    if _plugin.fixture_defs:
        fixturedefs.extend(_plugin.fixture_defs.values())
    _plugin.fixture_defs = None
    for fixturedef in fixturedefs:
        if fixturedef.scope == "function" or not fixturedef._finalizers:
            continue
        fixturedef._finalizers[:] = [
            fin for fin in fixturedef._finalizers if not _torn_down_fixture(fin)
        ]


def _torn_down_fixture(finalizer):
    owner = getattr(getattr(finalizer, "func", None), "__self__", None)
    return (
        getattr(owner, "scope", None) is not None and getattr(owner, "cached_result", None) is None
    )


def _item_state(item):
    """What a run may add to its item (request.applymarker, add_marker,
    record_property, report sections) and to a Hypothesis test's settings,
    as it is before the run."""
    return (
        list(item.own_markers),
        dict(getattr(item.keywords, "_markers", {})),
        set(item.extra_keyword_matches),
        list(item.user_properties),
        list(item._report_sections),
        _hypothesis_settings(item),
    )


def _hypothesis_settings(item):
    """What holds the @given test's settings and those settings, or None. At
    every call of a parametrized @given test, Hypothesis's pytest plugin
    wraps the function's settings in new ones (parent=the old), once per
    item under pytest: repeated, the chain grew by 2 objects a run
    (dateutil's test_gettz_returns_local was LEAKED for it)."""
    obj = getattr(item, "obj", None)
    if not getattr(obj, "is_hypothesis_test", False):
        return None
    return common.hypothesis_settings_of(obj, None)


def _restore_item(item, state):
    """Puts `state` back: pytest runs an item once, so what a run adds to it
    would pile up with the runs, and show as growth that is pytest's."""
    markers, keywords, extra, properties, sections, hypothesis = state
    if hypothesis is not None and hypothesis[1] is not None:
        holder, settings = hypothesis
        holder._hypothesis_internal_use_settings = settings
    item.own_markers[:] = markers
    own_keywords = getattr(item.keywords, "_markers", None)
    if own_keywords is not None:
        own_keywords.clear()
        own_keywords.update(keywords)
    item.extra_keyword_matches.clear()
    item.extra_keyword_matches.update(extra)
    item.user_properties[:] = properties
    item._report_sections[:] = sections


class _HookProxies:
    """Session.gethookproxy while tests run. Every `item.ihook` (each phase,
    each report, each function-scoped fixture's setup and finish) asks the
    session again, and the session answers with a stat of the item's file
    and a comparison of conftest sets; where a conftest does not apply, with
    a new proxy that looks each hook up again. Conftests are loaded during
    collection, not while tests run, so the first answer for a path holds
    for every run after it. Outside runs (collection, leave) the session
    answers itself."""

    def __init__(self, session):
        self.find = session.gethookproxy
        self.hook = session.config.hook
        self.found = {}
        self.subsets = {}  # the conftests left out -> their proxy

    def __call__(self, fspath):
        proxy = self.found.get(fspath)
        if proxy is None:
            proxy = self.found[fspath] = self._shared(self.find(fspath))
        return proxy

    def _shared(self, proxy):
        """One proxy for each set of conftests left out, with every hook
        looked up now: a hook first called in a later run (a warning, a
        failed assertion) would otherwise add to it then, and show as growth."""
        left_out = getattr(proxy, "remove_mods", None)
        if left_out is None:
            return proxy  # every conftest applies: pytest's own hook relay
        key = frozenset(left_out)
        if key not in self.subsets:
            for name in list(vars(self.hook)):
                if name.startswith("pytest_"):
                    getattr(proxy, name)
            self.subsets[key] = proxy
        return self.subsets[key]


_CONTAINERS = (list, dict, set, bytearray)


def _copied(value, memo):
    """A copy of the lists, dicts, sets, bytearrays and tuples in `value`;
    every other object stays itself, so a sentinel keeps its identity. A
    tuple that holds none of them is `value` itself (exact types: a class of
    the suite's own is left to the suite)."""
    kind = type(value)
    if kind not in _CONTAINERS and kind is not tuple:
        return value
    if id(value) in memo:
        return memo[id(value)]
    if kind is list:
        copy = memo[id(value)] = []
        copy.extend(_copied(part, memo) for part in value)
    elif kind is dict:
        copy = memo[id(value)] = {}
        copy.update((key, _copied(part, memo)) for key, part in value.items())
    elif kind is tuple:
        parts = tuple(_copied(part, memo) for part in value)
        same = all(part is old for part, old in zip(parts, value))
        copy = value if same else parts
    else:
        copy = kind(value)
    memo[id(value)] = copy
    return copy


def _fresh_parameters(index, item):
    """Gives the item's run parametrized values as collected. pytest hands
    each run the same objects, and a test may change them (humanize's
    test_naturalsize negates its list argument), which its one run under
    pytest never sees again; repeated, the next run would fail."""
    params = getattr(getattr(item, "callspec", None), "params", None)
    if not params:
        return
    collected = _parameters.get(index)
    if collected is None:
        try:
            copies = {name: _copied(value, {}) for name, value in params.items()}
            collected = {name: copy for name, copy in copies.items() if copy is not params[name]}
        except RecursionError:
            collected = {}  # nested too deep to copy: pytest's own objects
        _parameters[index] = collected
    for name, value in collected.items():
        params[name] = _copied(value, {})


# doctest.DocTestRunner's tallies: its totals, and each doctest's own under
# the doctest's name (_name2ft up to 3.12, _stats from 3.13).
_TOTALS = ("tries", "failures", "skips")
_PER_DOCTEST = ("_name2ft", "_stats")


def _fresh_doctest_tallies(index, item):
    """Puts the tallies of the item's doctest runner back as they were
    before its first run. pytest runs a module's doctests with one runner,
    which adds each run's examples to them; past 256 a tally is a new int,
    a block more the first time it passes that, which looked like growth
    (humanize's `number.ordinal` was LEAKED)."""
    runner = getattr(item, "runner", None)
    per_doctest = next(
        (
            getattr(runner, name)
            for name in _PER_DOCTEST
            if isinstance(getattr(runner, name, None), dict)
        ),
        None,
    )
    name = item.dtest.name
    saved = _doctest_tallies.get(index)
    if saved is None:
        totals = {total: getattr(runner, total) for total in _TOTALS if hasattr(runner, total)}
        _doctest_tallies[index] = (totals, None if per_doctest is None else per_doctest.get(name))
        return
    totals, own = saved
    for total, value in totals.items():
        setattr(runner, total, value)
    if per_doctest is not None:
        if own is None:
            per_doctest.pop(name, None)
        else:
            per_doctest[name] = own


def _reporter():
    """pytest's terminal reporter, printing nowhere: it stays registered (its
    options, such as -r in an ini's addopts, must parse). Looked up each
    time: pytest-instafail registers its own in its place after leakhunt's
    pytest_configure, and the stats of that one grew with every run (a
    SubtestReport each subtest: every subTest test LEAKED)."""
    config = _state["config"]
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and reporter is not _state.get("reporter"):
        reporter._tw = create_terminal_writer(config, _Sink())
        _state["reporter"] = reporter
    return reporter


def run(index):
    """One run of one item: setup, call, teardown. Scopes above the function
    stay set up: the teardown goes as far as the item's parent, as if the
    next item were a sibling. Returns None when it passed, else the phase
    report of what did not."""
    item = _items[index]
    if isinstance(item, _SkippedFile):
        return common.phase_report("setup", "skipped", "Skipped", item.reason)
    _state["last run"] = item
    if index in _doctest_globals:
        item.dtest.globs.update(_doctest_globals[index])
        _fresh_doctest_tallies(index, item)
    _fresh_parameters(index, item)
    history = _state["hook history"]
    kept = len(history)
    reporter = _reporter()
    stats = reporter.stats if reporter is not None else {}
    sizes = {key: len(value) for key, value in stats.items()}
    _plugin.exceptions.clear()
    _plugin.subtest_failure = None
    _plugin.interrupt = None
    _plugin.subtests = {}
    _plugin.warnings = []
    before = _item_state(item)
    session = _state["session"]
    session.gethookproxy = _state["hook proxies"]
    try:
        item.ihook.pytest_runtest_protocol(item=item, nextitem=item.parent)
    except BaseException as error:  # noqa: B036 - only a Ctrl-C is handled here
        interrupt = _interrupt_in(error)
        if interrupt is None:
            raise
        return _interrupted(interrupt)
    finally:
        del session.gethookproxy
        # pytest keeps these per item for its single run; repeated, they grow.
        del history[kept:]
        # The terminal reporter files warnings and subtest reports; pytest
        # counts those of the item's one run in its final line. leakhunt
        # counts the ResourceWarnings itself.
        if index not in _first_runs:
            _first_runs[index] = (list(_plugin.subtests.items()), _plugin.warnings)
        for key in list(stats):
            if key in sizes:
                del stats[key][sizes[key] :]
            else:
                del stats[key]
        if getattr(item, "_fixtureinfo", None) is not None:
            _drop_finished_finalizers(item)
        _restore_item(item, before)
    reports, _plugin.reports = _plugin.reports, []
    if _plugin.interrupt is not None:
        return _plugin.interrupt
    return _reported(reports, _plugin.exceptions) or _plugin.subtest_failure


def first_run(index):
    """What pytest tells of the item's first run besides its outcome
    (harness::PytestFirstRun): its counts as pytest would count its one run
    ("subtests passed", ...), and its warnings as pytest's warnings summary
    shows them, but ResourceWarnings, which leakhunt places itself."""
    counts, warnings = _first_runs.get(index, ([], []))
    return {
        "counts": [{"category": category, "count": count} for category, count in counts],
        "warnings": warnings,
    }


def leave(next_index):
    """Tears down the scopes the next item (None: no item) does not share,
    with output captured as pytest captures a teardown. Returns None, or the
    phase report of the teardown that failed."""
    nextitem = None if next_index is None else _items[next_index]
    if isinstance(nextitem, _SkippedFile):
        return None  # the scopes stay until a test that is run comes next
    session = _state["session"]
    capture = session.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.resume_global_capture()
    item = _state.pop("last run", None)
    teardown = _teardown_with_nextitem() if item is not None else None
    try:
        if teardown is None:
            session._setupstate.teardown_exact(nextitem)
        else:
            teardown(item=item, nextitem=nextitem)
    except (KeyboardInterrupt, pytest.exit.Exception) as error:
        return _interrupted(error)
    except BaseException as error:  # noqa: B036 - reported on the test, as pytest does
        text = _format(error)
        kind, message = type(error).__name__, common.text(error)
        return common.phase_report("teardown", "failed", kind, message, text)
    finally:
        if capture is not None:
            capture.suspend_global_capture()
            capture.read_global_capture()
    return None


def _teardown_with_nextitem():
    """pytest_runtest_teardown as the plugins that read its `nextitem` see it,
    around pytest's own (which tears down what the next item does not
    share); None when no plugin but pytest's reads it. Every run of a test
    tears down as if a sibling came next: a plugin that learns from
    `nextitem` that a class ended (SQLAlchemy's stops its databases) must
    hear it once, after the last run. Its other teardown work runs once
    more then; pytest's own per-run hooks (logging, capture) do not."""
    if "teardown with nextitem" not in _state:
        manager = _state["config"].pluginmanager
        runner = manager.get_plugin("runner")
        impls = manager.hook.pytest_runtest_teardown.get_hookimpls()
        readers = [
            impl.plugin
            for impl in impls
            if "nextitem" in impl.argnames
            and impl.plugin is not runner
            and not getattr(impl.plugin, "__name__", "").startswith("_pytest.")
        ]
        remove = [
            impl.plugin
            for impl in impls
            if impl.plugin is not runner and impl.plugin not in readers
        ]
        _state["teardown with nextitem"] = (
            manager.subset_hook_caller("pytest_runtest_teardown", remove) if readers else None
        )
    return _state["teardown with nextitem"]


def _format(error):
    from _pytest._code import ExceptionInfo

    return str(ExceptionInfo.from_exception(error).getrepr(style="short"))


def finish(exitstatus):
    """pytest's sessionfinish and unconfigure, as wrap_session ends."""
    config, session = _state["config"], _state["session"]
    os.chdir(session.startpath)
    try:
        config.hook.pytest_sessionfinish(session=session, exitstatus=exitstatus)
    finally:
        config._ensure_unconfigure()
        sys.stdout.flush()


def version():
    return pytest.__version__
