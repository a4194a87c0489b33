#!/usr/bin/env python3
"""Benchmark: what a leak's diagnosis costs, per leak, under each engine.

Runs leakhunt with --json on fixtures/leaky (every leak its own cause),
fixtures/one_cause (four leaks of two causes), a generated collection of
small leaky tests (each keeps a few objects per run in one global list) and
one whose tests all leak into a cache that already holds 30,000 objects
(fixtures/stream_cache.py: a known cause whose global holds every earlier
test's objects too, as click's suite leaks into one WeakKeyDictionary), and
prints, side by side for the built-in and the pytest engine: the leaks, how
many were matched to a known cause by a check (`same_cause_as`), the median,
largest and total diagnosis time per leak (the JSON's `diagnosis.seconds`)
and the session's wall time.

Run from the repository root:
    python3 ci/bench_diagnosis.py [--binary target/release/leakhunt]
        [--python /tmp/suites/venv] [--tests 30]
The Python given must have pytest for the pytest engine (a virtualenv folder
or an interpreter).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

LEAKY = """\
KEPT = []


class Thing:
    def __init__(self, n):
        self.n = n

"""


def write_suite(folder, prelude, body, tests):
    """test_gen.py: `prelude`, then `tests` tests, test t running `body(t)`."""
    with open(os.path.join(folder, "test_gen.py"), "w") as out:
        out.write(prelude)
        out.writelines(f"\ndef test_{t:03d}():\n    {body(t)}\n\n" for t in range(tests))
    with open(os.path.join(folder, "pytest.ini"), "w") as out:
        out.write("[pytest]\n")


def diagnosis_seconds(binary, python, engine, folder, paths):
    with tempfile.TemporaryDirectory() as scratch:
        report = os.path.join(scratch, "report.json")
        command = [binary, "--color", "no", "--engine", engine, "--timeout", "0", "--json", report]
        if python:
            command += ["--python", python]
        started = time.monotonic()
        subprocess.run(command + paths, cwd=folder, stdout=subprocess.DEVNULL, check=False)
        wall = time.monotonic() - started
        with open(report, encoding="utf-8") as f:
            tests = json.load(f)["tests"]
    diagnosed = [t["diagnosis"] for t in tests if t.get("diagnosis")]
    matched = sum(1 for d in diagnosed if d.get("same_cause_as"))
    return [d["seconds"] for d in diagnosed], matched, wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="target/release/leakhunt")
    parser.add_argument("--python", default="/tmp/suites/venv")
    parser.add_argument("--tests", type=int, default=30)
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    fixtures = os.path.abspath("fixtures")
    print(
        f"{'set':<22} {'engine':<8} {'leaks':>5} {'matched':>7} "
        f"{'median s':>9} {'max s':>7} {'total s':>8} {'wall s':>7}"
    )
    with tempfile.TemporaryDirectory() as generated, tempfile.TemporaryDirectory() as cached:
        write_suite(
            generated,
            LEAKY,
            lambda t: f"KEPT.append([Thing(i) for i in range({t % 5 + 1})])",
            args.tests,
        )
        with open(os.path.join(fixtures, "stream_cache.py"), encoding="utf-8") as source:
            cache = source.read()
        write_suite(cached, cache, lambda t: "STREAMS[object()] = Stream()", args.tests)
        sets = [
            ("fixtures/leaky", fixtures, ["leaky"]),
            ("fixtures/one_cause", fixtures, ["one_cause"]),
            ("generated", generated, ["."]),
            ("generated, one cache", cached, ["."]),
        ]
        for name, folder, paths in sets:
            for engine in ("builtin", "pytest"):
                seconds, matched, wall = diagnosis_seconds(
                    binary, args.python, engine, folder, paths
                )
                if not seconds:
                    print(f"{name:<22} {engine:<8} {0:>5}", file=sys.stderr)
                    continue
                print(
                    f"{name:<22} {engine:<8} {len(seconds):>5} {matched:>7} "
                    f"{statistics.median(seconds):>9.3f} {max(seconds):>7.3f} "
                    f"{sum(seconds):>8.3f} {wall:>7.2f}"
                )


if __name__ == "__main__":
    main()
