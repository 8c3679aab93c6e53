#!/usr/bin/env python3
"""Compares the no-op plan of two runform binaries on the same machine at the same time.

    python3 bench/compare.py OLD_BINARY NEW_BINARY [--size 10000] [--runs 7]

Each binary gets its own copy of a generated stack of N jobs (bench/run.py's) and its own
`local serve`; both stacks are applied, then their no-op plans run alternately, so machine
load affects both alike. Prints the median, fastest and slowest wall time and the highest
peak RSS of each. Asserts nothing.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py: generate, start_server, isolated)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--size", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=7)
    a = ap.parse_args()
    a.old, a.new = os.path.abspath(a.old), os.path.abspath(a.new)
    sides = []
    try:
        for label, binary in (("old", a.old), ("new", a.new)):
            d = tempfile.mkdtemp(prefix=f"runform-compare-{label}-")
            run.generate(d, a.size, "a")
            server = run.start_server(binary, d)
            sides.append((label, binary, d, server))
            p = subprocess.run([binary, "apply", "--local", "--auto-approve", "."], cwd=d, capture_output=True, text=True)
            if p.returncode != 0:
                sys.exit(f"{label}: apply failed:\n{p.stderr[-2000:]}")
        times = {label: [] for label, *_ in sides}
        peaks = {label: 0.0 for label, *_ in sides}
        for _ in range(a.runs):
            for label, binary, d, _ in sides:
                run.BIN = binary
                dt, rss, _, _ = run.isolated(["plan", "--local", "--detailed-exitcode", "."], d)
                times[label].append(dt)
                peaks[label] = max(peaks[label], rss)
        print(f"no-op plan of {a.size} jobs, {a.runs} alternating runs each")
        for label, binary, _, _ in sides:
            t = times[label]
            print(f"  {label}: median {statistics.median(t):.3f} s (fastest {min(t):.3f}, slowest {max(t):.3f}), "
                  f"peak {peaks[label]:.0f} MiB  [{binary}]")
    finally:
        for _, _, d, server in sides:
            server.terminate()
            server.wait()
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
