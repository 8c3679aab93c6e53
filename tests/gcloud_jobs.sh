#!/usr/bin/env bash
# gcloud's own `run jobs` and `logging read` against a local runtime set up only by
# `runform local env`. Usage: gcloud_jobs.sh RUNFORM URL. Run by tests/it/gcloud.rs.
set -euo pipefail
runform=$1 url=$2
eval "$("$runform" local env --endpoint "$url" --project gproj)"
export CLOUDSDK_CONFIG=$(mktemp -d) CLOUDSDK_CORE_DISABLE_PROMPTS=1
trap 'rm -rf "$CLOUDSDK_CONFIG"' EXIT
R=(--region us-central1)
step() { echo "== $1"; }

step services
gcloud services enable workflows.googleapis.com eventarc.googleapis.com
gcloud services list --enabled --format='value(config.name)'
step secrets
printf 'from-gcloud' | gcloud secrets create tok --data-file=- --format=none
gcloud secrets versions access latest --secret tok; echo
step create
gcloud run jobs create hello "${R[@]}" --image busybox --command /bin/sh \
  --args=-c,'echo hello from task $CLOUD_RUN_TASK_INDEX of $CLOUD_RUN_TASK_COUNT says $GREETING' --tasks 2
step list
gcloud run jobs list "${R[@]}" --format='value(metadata.name)'
step update
gcloud run jobs update hello "${R[@]}" --tasks 3 --update-env-vars GREETING=updated
step describe
gcloud run jobs describe hello "${R[@]}" --format='value(spec.template.spec.taskCount)'
step execute
gcloud run jobs execute hello "${R[@]}" --wait
step executions
gcloud run jobs executions list --job hello "${R[@]}" --format='value(metadata.name,status.succeededCount)'
step logging
gcloud logging read 'resource.type="cloud_run_job" AND resource.labels.job_name="hello"' \
  --format='value(textPayload)' --limit 10
step joblogs
gcloud beta run jobs logs read hello "${R[@]}" --limit 10
step replace
gcloud run jobs describe hello "${R[@]}" --format export > "$CLOUDSDK_CONFIG/hello.yaml"
sed -i 's/taskCount: 3/taskCount: 1/' "$CLOUDSDK_CONFIG/hello.yaml"
gcloud run jobs replace "$CLOUDSDK_CONFIG/hello.yaml" "${R[@]}"
gcloud run jobs describe hello "${R[@]}" --format='value(spec.template.spec.taskCount)'
step iam
gcloud run jobs add-iam-policy-binding hello "${R[@]}" --member=user:ana@example.com \
  --role=roles/run.invoker --format=none
gcloud run jobs get-iam-policy hello "${R[@]}" --format='value(bindings[0].members[0])'
step delete
gcloud run jobs delete hello "${R[@]}" --quiet
gcloud run jobs list "${R[@]}" --format='value(metadata.name)'
step done
