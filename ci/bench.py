#!/usr/bin/env python3
"""Benchmark: leakhunt on a generated suite of fast clean tests.

Reports the wall time per test and the overhead per run beyond the test
bodies (what leakhunt adds: cache clearing, collection, sampling, judging),
and the speed-up of `-n 2` over `-n 1`, the two measured alternately.
Run from the repository root:  python3 ci/bench.py [--tests 200] [--repeat 5]
It builds the release binary first. Numbers are medians of --repeat runs.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], check=True)
    binary = os.path.abspath("target/release/leakhunt")
    with tempfile.TemporaryDirectory() as folder:
        write_suite(folder, args.tests)
        walls = {1: [], 2: []}
        for _ in range(args.repeat):
            for workers in (1, 2):
                start = time.perf_counter()
                done = subprocess.run(
                    [binary, folder, "-vv", "--color", "no", "-n", str(workers)],
                    capture_output=True,
                    text=True,
                )
                walls[workers].append(time.perf_counter() - start)
                if done.returncode != 0:
                    sys.exit(f"leakhunt failed:\n{done.stdout}\n{done.stderr}")
        judged = [
            int(line.rsplit("x", 1)[1])
            for line in done.stdout.splitlines()
            if line.strip().startswith("objects")
        ]
        if len(judged) != args.tests or len(set(judged)) != 1:
            sys.exit(f"expected {args.tests} tests judged alike, got {judged}")
        # The default warm-up is 3 runs; every clean test stops at its first decision.
        runs_per_test = 3 + judged[0]
        total_runs = runs_per_test * args.tests
        bodies = statistics.median(
            time_bodies(runs_per_test, args.tests) for _ in range(args.repeat)
        )
    wall = statistics.median(walls[1])
    wall2 = statistics.median(walls[2])
    print(f"tests: {args.tests}, runs per test: {runs_per_test} ({total_runs} runs)")
    print(f"leakhunt -n 1 wall (median of {args.repeat}): {wall:.3f} s")
    print(f"leakhunt -n 2 wall (median of {args.repeat}): {wall2:.3f} s")
    print(f"  speed-up of -n 2 over -n 1: {wall / wall2:.2f}x")
    print(f"  per test: {wall / args.tests * 1e3:.2f} ms")
    print(f"test bodies alone: {bodies:.3f} s ({bodies / total_runs * 1e6:.1f} us per run)")
    print(f"overhead per run beyond the bodies: {(wall - bodies) / total_runs * 1e6:.0f} us")


if __name__ == "__main__":
    main()
