#!/usr/bin/env python3
"""Benchmark on real suites: plain pytest, then leakhunt, back to back.

For every suite of a folder made by ../shared/suites/fetch.sh (its
`suites.tsv` names each suite, its folder and its pytest arguments, and
`venv/` is the virtualenv that runs them all), runs plain pytest once and
then `leakhunt -n 2` once, in the same virtualenv, and prints a table: wall
time, CPU time (the user + system time of the process and every process it
waited for), the ratios leakhunt / pytest, and each run's verdict counts.

    python3 ci/bench_suites.py --suites /tmp/suites
    python3 ci/bench_suites.py --suites /tmp/suites --only humanize,idna \
        --leakhunt target/release/leakhunt --workers 1

The binary defaults to target/release/leakhunt (build it first with
`cargo build --release`). leakhunt remembers test durations between runs
(to split files by time and start a long late test at once); every
leakhunt run here gets a fresh, empty cache folder unless --cache names
one, so the figures are those of a first run. --stop-after stops a leakhunt run that takes longer (SIGTERM: it
writes what has finished) and marks the row. Nothing here asserts a speed.

    python3 ci/bench_suites.py --suites /tmp/suites --only humanize,idna --scaling 5

--scaling PAIRS measures what a second worker gives instead: for each suite,
`leakhunt -n 1` then `leakhunt -n 2`, PAIRS times alternating, each with a
fresh cache folder, and the median speed-up. Each row also gives how many
runs each session gave its tests: a noisy test gets more runs in one
session than in another, and the two sessions of a pair then did different
work. Bytecode writing is on there
(PYTHONDONTWRITEBYTECODE unset) and the suite is collected once before
timing, as from a user's second run: collecting is what both workers do
before they split the tests, and without a bytecode cache it is mostly
pytest rewriting every test file's asserts again. With --remembered, one
whole `leakhunt -n 2` run first fills a cache folder, and every timed run
starts from a copy of it: the durations a user's second session has.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

# pytest's last line, with its rule (leakhunt, pytest) or without it (pytest -q).
FINAL = re.compile(r"^(?:=+ )?(\d+ \w.*) in [0-9.]+s(?: \([0-9:]+\))?(?: =+)?$")


def read_suites(folder):
    """(name, directory, pytest arguments) for each line of suites.tsv."""
    path = os.path.join(folder, "suites.tsv")
    suites = []
    with open(path, encoding="utf-8") as table:
        for line in table:
            if not line.strip():
                continue
            name, directory, args = (line.rstrip("\n").split("\t") + [""])[:3]
            suites.append((name, directory, shlex.split(args)))
    return suites


def measure(argv, cwd, env, stop_after=None):
    """Runs argv; returns (wall seconds, CPU seconds, exit code, stdout,
    stopped). CPU is the child's and its waited-for descendants' user+sys."""
    started = time.monotonic()
    child = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    stopped = False
    chunks = []
    # Read in a thread-free way: the output goes to a file-like pipe; poll it.
    os.set_blocking(child.stdout.fileno(), False)
    while True:
        try:
            data = child.stdout.read()
        except BlockingIOError:
            data = None
        if data:
            chunks.append(data)
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if stop_after is not None and not stopped:
            if time.monotonic() - started > stop_after:
                child.send_signal(signal.SIGTERM)
                stopped = True
        time.sleep(0.05)
    wall = time.monotonic() - started
    os.set_blocking(child.stdout.fileno(), True)
    rest = child.stdout.read()
    if rest:
        chunks.append(rest)
    child.returncode = os.waitstatus_to_exitcode(status)
    output = b"".join(chunks).decode("utf-8", "replace")
    return wall, usage.ru_utime + usage.ru_stime, child.returncode, output, stopped


def final_counts(output):
    """`5 passed, 1 leaked` from pytest's (or leakhunt's) last line."""
    for line in reversed(output.splitlines()):
        match = FINAL.match(line.strip())
        if match:
            return match.group(1)
    return "(no final line)"


def for_pytest(pytest_args):
    """What leakhunt passes on to pytest: after its `--`."""
    return ["--"] + pytest_args if pytest_args else []


def hunt_command(binary, workers, pytest_args):
    return [binary, "--color", "no", "-n", str(workers)] + for_pytest(pytest_args)


def runs_in(report):
    """How many runs the session gave its tests, from its JSON report: the
    work it did, which adaptive runs make differ between sessions."""
    try:
        with open(report, encoding="utf-8") as file:
            return sum(test["runs"] for test in json.load(file)["tests"])
    except (OSError, ValueError, KeyError):
        return "?"


def scaling(suites, binary, env, pairs, cache, remembered):
    """Prints `-n 1` against `-n 2` for each suite, `pairs` times alternating."""
    env = dict(env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    print(
        "| suite | `-n 1` wall | `-n 2` wall | speed-up | CPU `-n 1` → `-n 2` "
        "| runs `-n 1` → `-n 2` |"
    )
    print("|---|---|---|---|---|---|")
    for name, directory, pytest_args in suites:
        prime = [binary, "--collect-only", "-q"] + for_pytest(pytest_args)
        measure(prime, directory, env)
        memory = tempfile.mkdtemp(prefix="bench-memory-")
        if remembered:
            command = hunt_command(binary, 2, pytest_args)
            measure(command, directory, dict(env, LEAKHUNT_CACHE_DIR=memory))
        speedups = []
        for _ in range(pairs):
            runs = []
            for workers in (1, 2):
                with tempfile.TemporaryDirectory(prefix="bench-cache-") as fresh:
                    shutil.copytree(memory, fresh, dirs_exist_ok=True)
                    run_env = dict(env, LEAKHUNT_CACHE_DIR=cache or fresh)
                    report = os.path.join(fresh, "report.json")
                    command = hunt_command(binary, workers, pytest_args)
                    command[1:1] = ["--json", report]
                    wall, cpu, *_ = measure(command, directory, run_env)
                    runs.append((wall, cpu, runs_in(report)))
            (one, one_cpu, one_runs), (two, two_cpu, two_runs) = runs
            speedups.append(one / two)
            print(
                f"| {name} | {one:.2f} s | {two:.2f} s | {one / two:.2f}× "
                f"| {one_cpu:.1f} → {two_cpu:.1f} s | {one_runs} → {two_runs} |",
                flush=True,
            )
        print(f"| **{name}, median** | | | **{statistics.median(speedups):.2f}×** | |")
        shutil.rmtree(memory, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suites", required=True, help="folder made by fetch.sh")
    parser.add_argument("--leakhunt", default="target/release/leakhunt")
    parser.add_argument("--workers", default="2", help="leakhunt -n (default 2)")
    parser.add_argument("--only", default="", help="comma-separated suite names")
    parser.add_argument(
        "--cache", help="leakhunt's cache folder (default: a fresh one)"
    )
    parser.add_argument("--stop-after", type=float, help="seconds per leakhunt run")
    parser.add_argument("--log", help="folder to keep each run's output in")
    parser.add_argument(
        "--scaling",
        type=int,
        metavar="PAIRS",
        help="time -n 1 against -n 2 instead, PAIRS times alternating",
    )
    parser.add_argument(
        "--remembered",
        action="store_true",
        help="with --scaling: start every run from the durations of a first one",
    )
    args = parser.parse_args()

    suites = read_suites(args.suites)
    if args.only:
        wanted = set(args.only.split(","))
        suites = [s for s in suites if s[0] in wanted]
    venv = os.path.join(os.path.abspath(args.suites), "venv")
    python = os.path.join(venv, "bin", "python")
    binary = os.path.abspath(args.leakhunt)
    if not os.access(binary, os.X_OK):
        sys.exit(f"{binary} is not an executable: build it (cargo build --release)")
    env = dict(os.environ)
    env.pop("COLUMNS", None)
    env["VIRTUAL_ENV"] = venv
    env["PATH"] = os.path.join(venv, "bin") + os.pathsep + env.get("PATH", "")
    env.pop("GITHUB_ACTIONS", None)
    if args.log:
        os.makedirs(args.log, exist_ok=True)

    print(f"leakhunt: {binary} -n {args.workers}; python: {python}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print()
    if args.scaling:
        scaling(suites, binary, env, args.scaling, args.cache, args.remembered)
        print()
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        return
    header = (
        "| suite | pytest wall | pytest CPU | leakhunt wall | leakhunt CPU "
        "| wall ratio | CPU ratio | pytest | leakhunt |"
    )
    print(header)
    print("|---|---|---|---|---|---|---|---|---|")
    wall_ratios, cpu_ratios = [], []
    for name, directory, pytest_args in suites:
        plain = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"] + pytest_args
        p_wall, p_cpu, _, p_out, _ = measure(plain, directory, env)
        with tempfile.TemporaryDirectory(prefix="bench-cache-") as fresh:
            run_env = dict(env, LEAKHUNT_CACHE_DIR=args.cache or fresh)
            hunt = hunt_command(binary, args.workers, pytest_args)
            l_wall, l_cpu, _, l_out, stopped = measure(
                hunt, directory, run_env, args.stop_after
            )
        if args.log:
            for kind, text in (("pytest", p_out), ("leakhunt", l_out)):
                with open(os.path.join(args.log, f"{name}.{kind}.txt"), "w") as out:
                    out.write(text)
        wall_ratios.append(l_wall / p_wall)
        cpu_ratios.append(l_cpu / p_cpu)
        mark = " (stopped)" if stopped else ""
        print(
            f"| {name} | {p_wall:.1f} s | {p_cpu:.1f} s | {l_wall:.1f} s{mark} "
            f"| {l_cpu:.1f} s | {l_wall / p_wall:.1f}× | {l_cpu / p_cpu:.1f}× "
            f"| {final_counts(p_out)} | {final_counts(l_out)} |",
            flush=True,
        )
    if wall_ratios:
        print(
            f"| **median** | | | | | **{statistics.median(wall_ratios):.1f}×** "
            f"| **{statistics.median(cpu_ratios):.1f}×** | | |"
        )
    print()
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
