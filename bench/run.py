#!/usr/bin/env python3
"""runform benchmark: prints figures, asserts nothing.

    python3 bench/run.py [--sizes 1000,10000] [--keep]

Builds the release binary, starts `runform local serve` on 127.0.0.1:0 for a generated
stack of N Cloud Run jobs, and measures for each N:
  apply (create N), no-op plan, apply (update N in place), destroy (N)
with wall time, the runform process's peak RSS, and the API calls it reports (--verbose);
the no-op plans run 5 times and report the median time and the highest peak.
Targets (issue 5, 2-core machine): apply of 1,000 jobs < 1 s; no-op plan of 10,000 < 1 s and
< 150 MB; refresh in ceil(N / 1000) list calls.
"""
import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "runform")


def generate(d: str, n: int, marker: str) -> None:
    parts = ['provider "google" {\n  project = "bench"\n  region  = "us-central1"\n}\n']
    for i in range(n):
        parts.append(
            f'''
resource "google_cloud_run_v2_job" "j{i}" {{
  name                = "job-{i}"
  location            = "us-central1"
  deletion_protection = false
  labels = {{
    team = "bench"
    idx  = "{i}"
  }}
  template {{
    task_count  = 2
    parallelism = 2
    template {{
      max_retries = 1
      timeout     = "60s"
      containers {{
        image   = "busybox"
        command = ["/bin/sh", "-c", "echo {marker} {i}"]
        env {{
          name  = "INDEX"
          value = "{i}"
        }}
        resources {{
          limits = {{
            cpu    = "1"
            memory = "512Mi"
          }}
        }}
      }}
    }}
  }}
}}
'''
        )
    with open(os.path.join(d, "main.tf"), "w") as f:
        f.write("".join(parts))


def measure(args, cwd):
    """Runs one command; returns (seconds, peak RSS MiB of that command, stdout, stderr)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    p = subprocess.run([BIN] + args, cwd=cwd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    # ru_maxrss of children is the max over all waited-for children; commands grow in size
    # through the run, and each is measured on its own line, so report the max seen so far.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if p.returncode not in (0, 2):
        sys.exit(f"runform {' '.join(args)} failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}")
    return dt, max(peak, before) / 1024.0, p.stdout, p.stderr


def calls(stderr: str, what: str) -> str:
    m = re.search(what, stderr)
    return m.group(1) if m else "?"


def rss_of(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def start_server(binary: str, d: str) -> subprocess.Popen:
    """`runform local serve` for the stack in `d`, on 127.0.0.1 port 0."""
    server = subprocess.Popen(
        [binary, "local", "serve", "--addr", "127.0.0.1:0", "--dir", d],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    line = server.stdout.readline()
    if "listening" not in line:
        server.kill()
        sys.exit(f"{binary}: server did not start: {line}")
    return server


def bench(n: int, keep: bool) -> None:
    d = tempfile.mkdtemp(prefix=f"runform-bench-{n}-")
    generate(d, n, "a")
    server = start_server(BIN, d)
    rows = []
    try:
        def step(name, args, repeat=1):
            # A fresh process per command: peak RSS is per command, measured by a helper
            # that reports its own child's maxrss. A repeated step (a no-op plan changes
            # nothing) reports the median wall time and the highest peak: single runs on a
            # shared 2-core machine vary by +-20%.
            runs = [isolated(args, d) for _ in range(repeat)]
            runs.sort(key=lambda r: r[0])
            dt, _, out, err = runs[len(runs) // 2]
            rss = max(r[1] for r in runs)
            total = calls(err, r"made (\d+) API call")
            refresh = calls(err, r"with (\d+) read call")
            summary = next((l for l in out.splitlines() if l.startswith(("Plan:", "No changes", "Apply complete", "Destroy complete"))), "")
            label = f"{name} x{repeat}" if repeat > 1 else name
            rows.append((label, dt, rss, refresh, total, summary))

        step("apply (create)", ["apply", "--local", "--auto-approve", "--verbose", "."])
        step("plan (no-op)", ["plan", "--local", "--verbose", "--detailed-exitcode", "."], repeat=5)
        generate(d, n, "b")
        step("apply (update all)", ["apply", "--local", "--auto-approve", "--verbose", "."])
        step("plan (no-op)", ["plan", "--local", "--verbose", "--detailed-exitcode", "."], repeat=5)
        step("destroy", ["destroy", "--local", "--auto-approve", "--verbose", "."])
    finally:
        server_rss = rss_of(server.pid)
        server.terminate()
        server.wait()
        if not keep:
            shutil.rmtree(d, ignore_errors=True)
    print(f"\n{n} jobs  (server peak RSS {server_rss:.0f} MiB; expected refresh list calls: {-(-n // 1000)})")
    print(f"  {'step':<20} {'wall s':>7} {'peak MiB':>9} {'list calls':>11} {'API calls':>10}  result")
    for name, dt, rss, refresh, total, summary in rows:
        print(f"  {name:<20} {dt:>7.3f} {rss:>9.1f} {refresh:>11} {total:>10}  {summary}")


def isolated(args, cwd):
    """Measures one runform command in its own helper process so its peak RSS is its own."""
    code = (
        "import resource,subprocess,sys,time,json;"
        "t=time.perf_counter();p=subprocess.run(sys.argv[1:],capture_output=True,text=True);"
        "dt=time.perf_counter()-t;"
        "print(json.dumps([p.returncode,dt,resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024.0,p.stdout,p.stderr]))"
    )
    import json
    p = subprocess.run([sys.executable, "-c", code, BIN] + args, cwd=cwd, capture_output=True, text=True)
    rc, dt, rss, out, err = json.loads(p.stdout)
    if rc not in (0, 2):
        sys.exit(f"runform {' '.join(args)} failed ({rc}):\n{out[-2000:]}\n{err[-4000:]}")
    return dt, rss, out, err


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--keep", action="store_true", help="keep the generated stacks")
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()
    if not a.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    print(f"runform benchmark on {os.cpu_count()} CPU(s); binary {BIN}")
    for n in [int(x) for x in a.sizes.split(",")]:
        bench(n, a.keep)


if __name__ == "__main__":
    main()
