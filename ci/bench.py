#!/usr/bin/env python3
"""Benchmark: leakhunt on a generated suite of fast clean tests, under the
built-in engine (one and two workers) and the pytest engine, side by side in
one run.

Reports the wall time per test and the overhead per run beyond the test
bodies (what leakhunt adds: cache clearing, collection, sampling, judging,
and under pytest, pytest's own run protocol), and the speed-up of `-n 2`
over `-n 1`. With --marginal, each `-n 1` configuration also runs a suite
five times as large, which splits that overhead into what each further run
costs (the difference between the two suites) and a fixed cost (process
start, importing pytest, collecting), which the first figure spreads over
the runs. Both still count what is paid once a test (collecting it, the
freeze, the judged runs' baseline) as if each of its 5 runs paid a fifth.
--marginal also times plain `pytest -q` on both suites: what one more test
costs pytest itself (collecting it, running it once, reporting it).
With --per-run, each `-n 1` configuration also runs with 10 more warm-ups a
test: the difference is what one more run of the same tests costs (a
warm-up: the run without the sample a judged run adds), and pytest's own
run protocol is timed in a bare loop over the same tests (no leakhunt): the
part of a pytest run that any tool running pytest's protocol pays, called
directly and through its hook (with that hook's wrappers, as pytest and
leakhunt call it).
The test files' bytecode is cached before timing (a collection of each
suite by each engine with bytecode writing on, the rewritten modules pytest
caches included), as from a user's second run on: this machine sets
PYTHONDONTWRITEBYTECODE=1, under which every collection compiled every test
file again (about 100 us a test with the built-in engine, 1.4 ms with
pytest's assert rewriting), a cost plain Python and pytest share and that
tells nothing of leakhunt. --cold leaves the cache empty, as before.
Run from the repository root:  python3 ci/bench.py [--tests 200] [--repeat 5]
It builds the release binary first, and runs both engines in a virtualenv
with pytest (--python, default target/tmp/venv-pytest-9.2.0, made with pip on
first use, the one the tests make). Numbers are medians of --repeat runs,
the engines alternating.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

PYTEST = "9.2.0"
# Warm-ups a test gets with --per-run: leakhunt's 2 and 10 more.
MORE_WARMUPS = 12

BODY = """\
    total = 0
    for i in range(200):
        total += i * i
    assert total > 0
"""


def write_suite(folder, tests, per_file=10):
    for f in range(tests // per_file):
        with open(os.path.join(folder, f"test_gen_{f:03d}.py"), "w") as out:
            for t in range(per_file):
                out.write(f"def test_{t:02d}():\n{BODY}\n\n")


def time_bodies(runs_per_test, tests):
    """Seconds the test bodies alone take for the same number of runs."""
    namespace = {}
    exec(f"def body():\n{BODY}", namespace)
    body = namespace["body"]
    start = time.perf_counter()
    for _ in range(tests * runs_per_test):
        body()
    return time.perf_counter() - start


def pytest_venv(path):
    """A virtualenv with pytest in it, made once (as tests/common/mod.rs does)."""
    if not os.path.exists(os.path.join(path, "bin", "python")):
        subprocess.run([sys.executable, "-m", "venv", path], check=True)
        subprocess.run(
            [os.path.join(path, "bin", "python"), "-m", "pip", "install", "--quiet"]
            + ["--disable-pip-version-check", f"pytest=={PYTEST}"],
            check=True,
        )
    return path


def succeeded(command, what, **options):
    """The finished `command` (its output captured as text); the bench stops
    with that output when it failed."""
    done = subprocess.run(command, capture_output=True, text=True, **options)
    if done.returncode != 0:
        sys.exit(f"{what} failed:\n{done.stdout}\n{done.stderr}")
    return done


def run_engine(binary, folder, engine, python, workers, warmup=None):
    """Wall seconds of one leakhunt run, its warm-up runs per test (from the
    session header, `engine: builtin, warm-up 2, ...`), and the judged runs
    of each test."""
    start = time.perf_counter()
    done = succeeded(
        [binary, folder, "-vv", "--color", "no", "--engine", engine, "--python", python]
        + ["-n", str(workers)]
        + ([] if warmup is None else ["--warmup", str(warmup)]),
        f"leakhunt --engine {engine}",
    )
    wall = time.perf_counter() - start
    judged = [
        judged_runs(line)
        for line in done.stdout.splitlines()
        if line.strip().startswith("objects")
    ]
    warmup = re.search(r"^engine: .*, warm-up (\d+),", done.stdout, re.MULTILINE)
    if warmup is None:
        sys.exit(f"no warm-up in leakhunt's header:\n{done.stdout[:2000]}")
    return wall, int(warmup.group(1)), judged


# pytest's own run protocol (setup, call, teardown) in a bare loop: each
# collected test run ROUNDS times, as leakhunt's pytest engine runs it
# (log=False, the scopes above the function left set up until the next
# test, which tears down what it does not share). `direct`: runtestprotocol
# itself, with the wrappers of each phase's hooks; `hook`: through the
# pytest_runtest_protocol hook, as pytest and leakhunt call it, whose
# wrappers (warnings, faulthandler, unittest, assertion) run too.
# Prints the seconds a run takes.
PYTEST_LOOP = """\
import sys, time
import pytest
from _pytest.config import _prepareconfig
from _pytest.main import Session
from _pytest.runner import runtestprotocol

ROUNDS, MODE = int(sys.argv[1]), sys.argv[2]


class Protocol:
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        runtestprotocol(item, nextitem=nextitem, log=False)
        return True


config = _prepareconfig(["-q", "-p", "no:cacheprovider", "."])
session = Session.from_config(config)
config._do_configure()
config.pluginmanager.register(Protocol())
config.hook.pytest_sessionstart(session=session)
config.hook.pytest_collection(session=session)
items = session.items
start = time.perf_counter()
for index, item in enumerate(items):
    for _ in range(ROUNDS):
        if MODE == "hook":
            item.ihook.pytest_runtest_protocol(item=item, nextitem=item.parent)
        else:
            runtestprotocol(item, nextitem=item.parent, log=False)
    session._setupstate.teardown_exact(items[index + 1] if index + 1 < len(items) else None)
print((time.perf_counter() - start) / (ROUNDS * len(items)))
"""


def pytest_loop(folder, python, mode):
    """Seconds one run of a test takes in PYTEST_LOOP, `mode` direct or hook."""
    done = succeeded(
        [
            os.path.join(python, "bin", "python"),
            "-c",
            PYTEST_LOOP,
            str(MORE_WARMUPS),
            mode,
        ],
        "pytest's protocol in a loop",
        cwd=folder,
    )
    return float(done.stdout.split()[-1])


def plain_pytest(folder, python):
    """Wall seconds of one plain `pytest -q` run of `folder`."""
    start = time.perf_counter()
    succeeded(
        [
            os.path.join(python, "bin", "python"),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        "plain pytest",
        cwd=folder,
    )
    return time.perf_counter() - start


def prime_bytecode(binary, folder, python):
    """Has each engine collect `folder` with bytecode writing on: the test
    modules' caches, pytest's rewritten ones among them, are then read."""
    environment = dict(os.environ)
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    for engine in ("builtin", "pytest"):
        succeeded(
            [
                binary,
                folder,
                "--collect-only",
                "-q",
                "--engine",
                engine,
                "--python",
                python,
            ],
            "leakhunt --collect-only",
            env=environment,
        )


def judged_runs(series_line):
    """Judged runs in a series line: `... deltas: +7 +0 x9` is 10 runs."""
    count = 0
    for token in series_line.split("deltas:")[1].split():
        count += int(token[1:]) - 1 if token.startswith("x") else 1
    return count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--python", default=f"target/tmp/venv-pytest-{PYTEST}")
    parser.add_argument(
        "--marginal",
        action="store_true",
        help="also measure a suite 5 times as large: per-run and fixed costs apart",
    )
    parser.add_argument(
        "--per-run",
        action="store_true",
        help="also run with 10 more warm-ups a test: what one more run costs, "
        "against pytest's own run protocol in a bare loop",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="no bytecode cache: every collection compiles every test file",
    )
    parser.add_argument(
        "--binary",
        help="a leakhunt binary to measure (default: build this checkout's release)",
    )
    args = parser.parse_args()
    if args.binary:
        binary = os.path.abspath(args.binary)
    else:
        subprocess.run(["cargo", "build", "--release", "--quiet"], check=True)
        binary = os.path.abspath("target/release/leakhunt")
    python = pytest_venv(os.path.abspath(args.python))
    # (engine, workers, tests, warm-ups: None for leakhunt's default)
    configurations = [
        ("builtin", 1, args.tests, None),
        ("builtin", 2, args.tests, None),
        ("pytest", 1, args.tests, None),
    ]
    if args.marginal:
        configurations += [
            ("builtin", 1, 5 * args.tests, None),
            ("pytest", 1, 5 * args.tests, None),
        ]
    if args.per_run:
        configurations += [
            ("builtin", 1, args.tests, MORE_WARMUPS),
            ("pytest", 1, args.tests, MORE_WARMUPS),
        ]
    walls = {configuration: [] for configuration in configurations}
    plain = {args.tests: [], 5 * args.tests: []}
    loops = {"direct": [], "hook": []}
    runs = {}
    with tempfile.TemporaryDirectory() as folder:
        suites = {}
        for tests in sorted({tests for _, _, tests, _ in configurations}):
            suites[tests] = os.path.join(folder, str(tests))
            os.mkdir(suites[tests])
            write_suite(suites[tests], tests)
            if not args.cold:
                prime_bytecode(binary, suites[tests], python)
        for _ in range(args.repeat):
            for configuration in configurations:
                engine, workers, tests, warmups = configuration
                wall, warmup, judged = run_engine(
                    binary, suites[tests], engine, python, workers, warmups
                )
                walls[configuration].append(wall)
                if len(judged) != tests:
                    sys.exit(f"expected {tests} tests judged, got {judged}")
                runs[configuration] = sum(warmup + j for j in judged)
            if args.per_run:
                for mode in ("direct", "hook"):
                    loops[mode].append(pytest_loop(suites[args.tests], python, mode))
            if args.marginal:
                for tests, samples in plain.items():
                    samples.append(plain_pytest(suites[tests], python))
        bodies_per_run = statistics.median(
            time_bodies(13, args.tests) / (13 * args.tests) for _ in range(args.repeat)
        )
    print(f"binary: {binary}")
    print(
        "imports: compiled at every collection (--cold)"
        if args.cold
        else "imports: from bytecode cached before timing"
    )
    print(
        f"tests: {args.tests}; test body alone: {bodies_per_run * 1e6:.1f} us per run"
    )
    for (engine, workers, tests, warmups), samples in walls.items():
        wall = statistics.median(samples)
        total_runs = runs[(engine, workers, tests, warmups)]
        overhead = (wall - bodies_per_run * total_runs) / total_runs
        more = "" if warmups is None else f", --warmup {warmups}"
        print(
            f"--engine {engine} -n {workers}, {tests} tests{more}: "
            f"wall (median of {args.repeat}) "
            f"{wall:.3f} s, {wall / tests * 1e3:.2f} ms per test, "
            f"{total_runs / tests:.1f} runs per test, "
            f"overhead per run beyond the body {overhead * 1e6:.0f} us"
        )
    for engine in ("builtin", "pytest") if args.marginal else ():
        small, large = (engine, 1, args.tests, None), (engine, 1, 5 * args.tests, None)
        wall_small, wall_large = (statistics.median(walls[c]) for c in (small, large))
        more_runs = runs[large] - runs[small]
        per_run = (wall_large - wall_small) / more_runs - bodies_per_run
        fixed = wall_small - (per_run + bodies_per_run) * runs[small]
        print(
            f"--engine {engine} -n 1: each further run costs {per_run * 1e6:.0f} us "
            f"beyond the body; fixed cost {fixed:.3f} s"
        )
    if args.marginal:
        wall_small, wall_large = (
            statistics.median(samples) for samples in plain.values()
        )
        per_test = (wall_large - wall_small) / (4 * args.tests) - bodies_per_run
        print(
            f"plain pytest -q (no leakhunt): each further test costs {per_test * 1e6:.0f} us "
            f"beyond the body; fixed cost {wall_small - (per_test + bodies_per_run) * args.tests:.3f} s"
        )
    for engine in ("builtin", "pytest") if args.per_run else ():
        usual, longer = (
            (engine, 1, args.tests, None),
            (engine, 1, args.tests, MORE_WARMUPS),
        )
        wall_usual, wall_longer = (statistics.median(walls[c]) for c in (usual, longer))
        per_run = (wall_longer - wall_usual) / (
            runs[longer] - runs[usual]
        ) - bodies_per_run
        print(
            f"--engine {engine} -n 1: one more run of the same tests costs "
            f"{per_run * 1e6:.0f} us beyond the body"
        )
    if args.per_run:
        direct, hook = (
            statistics.median(loops[m]) - bodies_per_run for m in ("direct", "hook")
        )
        print(
            f"pytest's own run protocol in a bare loop (no leakhunt): "
            f"{direct * 1e6:.0f} us a run beyond the body, "
            f"{hook * 1e6:.0f} us through its hook (with the hook's wrappers)"
        )
    one = statistics.median(walls[("builtin", 1, args.tests, None)])
    two = statistics.median(walls[("builtin", 2, args.tests, None)])
    print(f"speed-up of -n 2 over -n 1 (builtin): {one / two:.2f}x")


if __name__ == "__main__":
    main()
