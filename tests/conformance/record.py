#!/usr/bin/env python3
"""Records Terraform's answers for every expression in cases.txt.

For each case, `terraform console -plan` (against main.tf, in a scratch copy) is asked for
the value as the console prints it, `type(...)` of it and `issensitive(...)` of it, or the
error it reports. The answers go to terraform.json, which the conformance test compares
runform with.

    python3 tests/conformance/record.py            # rewrite terraform.json
    python3 tests/conformance/record.py --check    # exit 1 if Terraform now answers otherwise

Needs `terraform` on the PATH (1.11.4 was used); no provider is downloaded.
"""

import concurrent.futures
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def cases():
    with open(os.path.join(HERE, "cases.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.strip() and not line.lstrip().startswith("#"):
                yield line


def console(workdir, expr, env):
    p = subprocess.run(
        ["terraform", "console", "-plan"],
        input=expr + "\n",
        capture_output=True,
        text=True,
        cwd=workdir,
        env=env,
        timeout=120,
    )
    out = ANSI.sub("", p.stdout)
    err = ANSI.sub("", p.stderr)
    if p.returncode != 0:
        summary = ""
        for line in (out + "\n" + err).splitlines():
            m = re.search(r"Error: (.*)", line)
            if m:
                summary = m.group(1).strip()
                break
        return None, summary or "error"
    return out.rstrip("\n"), None


def answer(workdir, expr, env):
    value, error = console(workdir, expr, env)
    if error is not None:
        return {"expr": expr, "error": error}
    ty, _ = console(workdir, f"type({expr})", env)
    sens, _ = console(workdir, f"issensitive({expr})", env)
    return {"expr": expr, "value": value, "type": ty, "sensitive": sens}


def main():
    check = "--check" in sys.argv
    env = dict(os.environ, TF_CLI_CONFIG_FILE="/dev/null", TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    with tempfile.TemporaryDirectory() as tmp:
        work = os.path.join(tmp, "fixture")
        shutil.copytree(HERE, work, ignore=shutil.ignore_patterns("*.json", "*.py", "cases.txt"))
        subprocess.run(["terraform", "init", "-input=false"], cwd=work, env=env, check=True, capture_output=True)
        all_cases = list(cases())
        # One copy of the initialised fixture per worker: the console takes the state lock.
        workers = 8
        dirs = queue.Queue()
        for i in range(workers):
            d = os.path.join(tmp, f"w{i}")
            shutil.copytree(work, d, symlinks=True)
            dirs.put(d)

        def run(expr):
            d = dirs.get()
            try:
                return answer(d, expr, env)
            finally:
                dirs.put(d)

        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            answers = list(pool.map(run, all_cases))
    version = subprocess.run(["terraform", "version"], capture_output=True, text=True).stdout.splitlines()[0]
    doc = {"terraform": version, "cases": answers}
    path = os.path.join(HERE, "terraform.json")
    if check:
        with open(path, encoding="utf-8") as f:
            old = json.load(f)
        diffs = [(a, b) for a, b in zip(old["cases"], answers) if a != b]
        if len(old["cases"]) != len(answers):
            print(f"case count changed: {len(old['cases'])} recorded, {len(answers)} now; run record.py")
            return 1
        for a, b in diffs:
            print(f"recorded: {json.dumps(a)}\nnow:      {json.dumps(b)}")
        print(f"{len(answers) - len(diffs)}/{len(answers)} recordings match {version}")
        return 1 if diffs else 0
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"recorded {len(answers)} answers from {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
