#!/usr/bin/env python3
"""Records Terraform's plan JSON for every stack under tests/plans.

Each stack directory holds step1.tf (and maybe step2.tf). With one step, the plan of
step1.tf is recorded; with two, step1.tf is applied first and the plan of step2.tf is
recorded. Only what runform is compared on is kept: `resource_changes` (address, actions,
before, after, after_unknown, before_sensitive, after_sensitive) and `output_changes`.
Resource ids (random UUIDs) are replaced by "<id>".

    python3 tests/plans/record.py            # rewrite each stack's terraform.json
    python3 tests/plans/record.py --check    # exit 1 if Terraform now plans otherwise

Needs `terraform` on the PATH (1.11.4 was used); terraform_data needs no provider.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def stacks():
    return sorted(d for d in os.listdir(HERE) if os.path.isfile(os.path.join(HERE, d, "step1.tf")))


def tf(args, cwd, env):
    p = subprocess.run(["terraform", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise SystemExit(f"terraform {' '.join(args)} failed in {cwd}:\n{p.stdout}\n{p.stderr}")
    return p.stdout


def ids_of(state_json):
    """The id of every resource instance in `terraform show -json` of a state."""
    out = []

    def walk(module):
        for r in module.get("resources", []):
            out.append(r["values"]["id"])
        for m in module.get("child_modules", []):
            walk(m)

    walk(state_json.get("values", {}).get("root_module", {}))
    return out


def scrub(v, ids):
    if isinstance(v, dict):
        return {k: scrub(x, ids) for k, x in v.items()}
    if isinstance(v, list):
        return [scrub(x, ids) for x in v]
    if isinstance(v, str) and v in ids:
        return "<id>"
    return v


def plan_of(stack, env):
    with tempfile.TemporaryDirectory() as work:
        steps = sorted(f for f in os.listdir(os.path.join(HERE, stack)) if f.startswith("step"))
        tf(["init", "-input=false"], work, env)
        ids = []
        for i, step in enumerate(steps):
            shutil.copy(os.path.join(HERE, stack, step), os.path.join(work, "main.tf"))
            if i + 1 < len(steps):
                tf(["apply", "-auto-approve", "-input=false"], work, env)
                ids += ids_of(json.loads(tf(["show", "-json"], work, env)))
        tf(["plan", "-input=false", "-out=plan.bin"], work, env)
        plan = json.loads(tf(["show", "-json", "plan.bin"], work, env))
    return normalize(plan, set(ids))


def normalize(plan, ids):
    keep = ["actions", "before", "after", "after_unknown", "before_sensitive", "after_sensitive"]
    changes = {
        rc["address"]: {k: rc["change"].get(k) for k in keep}
        for rc in plan.get("resource_changes", [])
    }
    return scrub({"resource_changes": changes, "output_changes": plan.get("output_changes", {})}, ids)


def main():
    check = "--check" in sys.argv
    env = dict(os.environ, TF_CLI_CONFIG_FILE="/dev/null", TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    version = subprocess.run(["terraform", "version"], capture_output=True, text=True).stdout.splitlines()[0]
    failed = 0
    for stack in stacks():
        doc = {"terraform": version, **plan_of(stack, env)}
        path = os.path.join(HERE, stack, "terraform.json")
        if check:
            with open(path, encoding="utf-8") as f:
                old = json.load(f)
            if old != doc:
                failed += 1
                print(f"{stack}: Terraform now plans otherwise than recorded; run record.py")
            continue
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            f.write("\n")
        print(f"recorded {stack} from {version}")
    if check:
        print(f"{len(stacks()) - failed}/{len(stacks())} stacks match {version}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
