#!/usr/bin/env bash
# Benchmark of the container executor (issue 12): a job of 1,000 tasks running `true` at
# parallelism 100, through `runform local serve --executor docker`, against the same 1,000
# containers started by `xargs -P100 docker run --rm` with the same limits and network.
# Target: runform within 1.5x of xargs. Prints both wall times and the ratio.
#
#   DOCKER_HOST=unix:///path/docker.sock bench/containers.sh [TASKS] [PARALLELISM]
#
# Needs a running Docker Engine (DOCKER_HOST, else the default socket), the docker CLI and a
# static busybox (busybox-static) to build the test image offline.
set -euo pipefail
cd "$(dirname "$0")/.."
tasks=${1:-1000}
par=${2:-100}
image=runform-bench/true:1
cargo build --release --quiet
bin=$PWD/target/release/runform

if ! docker image inspect "$image" >/dev/null 2>&1; then
  root=$(mktemp -d)
  mkdir -p "$root/bin"
  cp "$(command -v busybox)" "$root/bin/busybox"
  ln -s busybox "$root/bin/true"
  ln -s busybox "$root/bin/sh"
  tar -C "$root" -c . | docker import --change 'ENTRYPOINT ["/bin/true"]' - "$image" >/dev/null
  rm -rf "$root"
fi

work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
cat >"$work/main.tf" <<TF
resource "google_cloud_run_v2_job" "bench" {
  name                = "bench"
  project             = "bench-proj"
  location            = "us-central1"
  deletion_protection = false
  template {
    task_count  = $tasks
    parallelism = $par
    template {
      max_retries = 0
      containers {
        image = "$image"
      }
    }
  }
}
TF
"$bin" local serve --executor docker --addr 127.0.0.1:0 --dir "$work" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do grep -q listening "$work/serve.log" && break; sleep 0.1; done
grep Tasks: "$work/serve.log"
"$bin" apply --local --auto-approve "$work" >/dev/null

t0=$(date +%s.%N)
"$bin" run --local --wait bench --dir "$work" >"$work/run.log" 2>&1 || { cat "$work/run.log"; exit 1; }
t1=$(date +%s.%N)
grep -E "succeeded|Succeeded" "$work/run.log" | tail -1 || true

t2=$(date +%s.%N)
seq "$tasks" | xargs -P"$par" -I{} docker run --rm --network host -m 512m --memory-swap 512m --cpus 1 "$image" >/dev/null
t3=$(date +%s.%N)

python3 - "$t0" "$t1" "$t2" "$t3" "$tasks" "$par" <<'PY'
import sys
t0, t1, t2, t3 = map(float, sys.argv[1:5])
r, x = t1 - t0, t3 - t2
print(f"{sys.argv[5]} tasks of `true` at parallelism {sys.argv[6]}:")
print(f"  runform (docker executor): {r:7.2f} s")
print(f"  xargs -P docker run --rm:  {x:7.2f} s")
print(f"  ratio: {r / x:.2f}x (target: at most 1.5x)")
PY
