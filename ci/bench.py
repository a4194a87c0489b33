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
the runs.
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


def run_engine(binary, folder, engine, python, workers):
    """Wall seconds of one leakhunt run, its warm-up runs per test (from the
    session header, `engine: builtin, warm-up 2, ...`), and the judged runs
    of each test."""
    start = time.perf_counter()
    done = subprocess.run(
        [binary, folder, "-vv", "--color", "no", "--engine", engine, "--python", python]
        + ["-n", str(workers)],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"leakhunt --engine {engine} failed:\n{done.stdout}\n{done.stderr}")
    judged = [
        judged_runs(line)
        for line in done.stdout.splitlines()
        if line.strip().startswith("objects")
    ]
    warmup = re.search(r"^engine: .*, warm-up (\d+),", done.stdout, re.MULTILINE)
    if warmup is None:
        sys.exit(f"no warm-up in leakhunt's header:\n{done.stdout[:2000]}")
    return wall, int(warmup.group(1)), judged


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
    configurations = [
        ("builtin", 1, args.tests),
        ("builtin", 2, args.tests),
        ("pytest", 1, args.tests),
    ]
    if args.marginal:
        configurations += [
            ("builtin", 1, 5 * args.tests),
            ("pytest", 1, 5 * args.tests),
        ]
    walls = {configuration: [] for configuration in configurations}
    runs = {}
    with tempfile.TemporaryDirectory() as folder:
        suites = {}
        for tests in sorted({tests for _, _, tests in configurations}):
            suites[tests] = os.path.join(folder, str(tests))
            os.mkdir(suites[tests])
            write_suite(suites[tests], tests)
        for _ in range(args.repeat):
            for engine, workers, tests in configurations:
                wall, warmup, judged = run_engine(
                    binary, suites[tests], engine, python, workers
                )
                walls[(engine, workers, tests)].append(wall)
                if len(judged) != tests:
                    sys.exit(f"expected {tests} tests judged, got {judged}")
                runs[(engine, workers, tests)] = sum(warmup + j for j in judged)
        bodies_per_run = statistics.median(
            time_bodies(13, args.tests) / (13 * args.tests) for _ in range(args.repeat)
        )
    print(f"binary: {binary}")
    print(
        f"tests: {args.tests}; test body alone: {bodies_per_run * 1e6:.1f} us per run"
    )
    for (engine, workers, tests), samples in walls.items():
        wall = statistics.median(samples)
        total_runs = runs[(engine, workers, tests)]
        overhead = (wall - bodies_per_run * total_runs) / total_runs
        print(
            f"--engine {engine} -n {workers}, {tests} tests: wall (median of {args.repeat}) "
            f"{wall:.3f} s, {wall / tests * 1e3:.2f} ms per test, "
            f"{total_runs / tests:.1f} runs per test, "
            f"overhead per run beyond the body {overhead * 1e6:.0f} us"
        )
    for engine in ("builtin", "pytest") if args.marginal else ():
        small, large = (engine, 1, args.tests), (engine, 1, 5 * args.tests)
        wall_small, wall_large = (statistics.median(walls[c]) for c in (small, large))
        more_runs = runs[large] - runs[small]
        per_run = (wall_large - wall_small) / more_runs - bodies_per_run
        fixed = wall_small - (per_run + bodies_per_run) * runs[small]
        print(
            f"--engine {engine} -n 1: each further run costs {per_run * 1e6:.0f} us "
            f"beyond the body; fixed cost {fixed:.3f} s"
        )
    one = statistics.median(walls[("builtin", 1, args.tests)])
    two = statistics.median(walls[("builtin", 2, args.tests)])
    print(f"speed-up of -n 2 over -n 1 (builtin): {one / two:.2f}x")


if __name__ == "__main__":
    main()
