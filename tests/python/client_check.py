"""Drive the local runtime with Google's own Cloud Run client (REST transport,
anonymous credentials). Run by tests/it/python.rs; exits non-zero with the
failing step on stderr.

Usage: python3 client_check.py ENDPOINT PROJECT REGION
"""
import sys

from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.api import launch_stage_pb2
from google.cloud import run_v2


def main() -> int:
    endpoint, project, region = sys.argv[1], sys.argv[2], sys.argv[3]
    opts = ClientOptions(api_endpoint=endpoint)
    creds = AnonymousCredentials()
    jobs = run_v2.JobsClient(credentials=creds, client_options=opts, transport="rest")
    executions = run_v2.ExecutionsClient(credentials=creds, client_options=opts, transport="rest")
    tasks = run_v2.TasksClient(credentials=creds, client_options=opts, transport="rest")
    parent = f"projects/{project}/locations/{region}"

    job = run_v2.Job(
        labels={"team": "data"},
        template=run_v2.ExecutionTemplate(
            task_count=3,
            parallelism=2,
            template=run_v2.TaskTemplate(
                max_retries=0,
                timeout="60s",
                containers=[
                    run_v2.Container(
                        image="busybox",
                        command=["/bin/sh"],
                        args=["-c", "echo task $CLOUD_RUN_TASK_INDEX of $CLOUD_RUN_TASK_COUNT says $GREETING"],
                        env=[run_v2.EnvVar(name="GREETING", value="hello")],
                    )
                ],
            ),
        ),
    )
    op = jobs.create_job(parent=parent, job=job, job_id="pyjob")
    created = op.result(timeout=30)
    name = f"{parent}/jobs/pyjob"
    assert created.name == name, created.name
    assert created.template.task_count == 3
    assert created.launch_stage == launch_stage_pb2.LaunchStage.GA, created.launch_stage
    print("create ok:", created.name, created.uid)

    got = jobs.get_job(name=name)
    assert got.labels["team"] == "data"
    assert got.template.template.containers[0].env[0].value == "hello"
    assert got.create_time.year >= 2024
    assert got.etag, "etag missing"
    print("get ok: generation", got.generation)

    # A second job so that listing pages.
    jobs.create_job(parent=parent, job=job, job_id="pyjob2").result(timeout=30)
    listed = sorted(j.name for j in jobs.list_jobs(request={"parent": parent, "page_size": 1}))
    assert listed == [name, f"{parent}/jobs/pyjob2"], listed
    print("list ok:", len(listed))

    # Update through the client (PATCH with the full job).
    got.template.task_count = 2
    got.template.parallelism = 2
    updated = jobs.update_job(job=got).result(timeout=30)
    assert updated.template.task_count == 2, updated.template.task_count
    assert updated.generation > got.generation
    print("update ok: generation", updated.generation)

    run_op = jobs.run_job(
        request=run_v2.RunJobRequest(
            name=name,
            overrides=run_v2.RunJobRequest.Overrides(
                container_overrides=[
                    run_v2.RunJobRequest.Overrides.ContainerOverride(
                        env=[run_v2.EnvVar(name="GREETING", value="from-python")]
                    )
                ]
            ),
        )
    )
    # The operation's metadata is the Execution (as on Google) and its name is known at once.
    meta = run_op.metadata
    assert meta is not None and meta.name.startswith(f"{name}/executions/"), meta
    execution = run_op.result(timeout=60)
    assert execution.succeeded_count == 2, execution
    assert execution.task_count == 2
    assert execution.completion_time.year >= 2024
    cond = {c.type_: c.state for c in execution.conditions}
    assert cond.get("Completed") == run_v2.Condition.State.CONDITION_SUCCEEDED, cond
    print("run ok:", execution.name)

    listed_exec = list(executions.list_executions(parent=name))
    assert [e.name for e in listed_exec] == [execution.name], listed_exec
    got_exec = executions.get_execution(name=execution.name)
    assert got_exec.succeeded_count == 2
    # page_size 1: the pager follows nextPageToken through every page.
    task_list = list(tasks.list_tasks(request={"parent": execution.name, "page_size": 1}))
    assert sorted(t.index for t in task_list) == [0, 1], task_list
    for t in task_list:
        assert t.execution == execution.name.rsplit("/", 1)[1], t.execution  # short name, as Google returns
        assert t.retried == 0
        one = tasks.get_task(name=t.name)
        assert one.index == t.index
    print("executions ok:", len(task_list), "tasks")

    # Executions and tasks carry an etag and a logUri, as on Google.
    assert got_exec.etag and got_exec.log_uri, (got_exec.etag, got_exec.log_uri)
    assert all(t.etag and t.log_uri for t in task_list), task_list
    # `locations/-` lists every location's jobs.
    other = f"projects/{project}/locations/asia-east1"
    jobs.create_job(parent=other, job=job, job_id="elsewhere").result(timeout=30)
    everywhere = sorted(j.name for j in jobs.list_jobs(parent=f"projects/{project}/locations/-"))
    assert everywhere == sorted([name, f"{parent}/jobs/pyjob2", f"{other}/jobs/elsewhere"]), everywhere
    jobs.delete_job(name=f"{other}/jobs/elsewhere").result(timeout=30)
    # A cancel's operation ends with the cancelled execution (its result does not raise).
    sleeper = run_v2.Job(template=run_v2.ExecutionTemplate(template=run_v2.TaskTemplate(
        max_retries=0, timeout="60s",
        containers=[run_v2.Container(image="busybox", command=["/bin/sh", "-c", "sleep 30"])])))
    jobs.create_job(parent=parent, job=sleeper, job_id="sleeper").result(timeout=30)
    started = jobs.run_job(name=f"{parent}/jobs/sleeper")
    cancelled = executions.cancel_execution(name=started.metadata.name).result(timeout=30)
    assert cancelled.name == started.metadata.name and cancelled.cancelled_count == 1, cancelled
    jobs.delete_job(name=f"{parent}/jobs/sleeper").result(timeout=30)
    print("details ok")

    # Errors come back as the client's own exception types.
    from google.api_core import exceptions

    try:
        jobs.get_job(name=f"{parent}/jobs/missing")
        raise AssertionError("expected NotFound")
    except exceptions.NotFound:
        pass
    try:
        jobs.create_job(parent=parent, job=job, job_id="pyjob").result(timeout=30)
        raise AssertionError("expected AlreadyExists")
    except exceptions.Conflict:  # 409 ALREADY_EXISTS; the REST transport maps by HTTP code
        pass
    # A stale etag is 409 ABORTED, as Google answers it.
    stale = jobs.get_job(name=name)
    stale.etag = '"0000000000000000"'
    try:
        jobs.update_job(job=stale).result(timeout=30)
        raise AssertionError("expected Aborted")
    except exceptions.Conflict as e:
        assert e.code == 409 and "etag" in str(e), e
    print("errors ok")

    # IAM through the client.
    from google.iam.v1 import iam_policy_pb2, policy_pb2

    policy = jobs.get_iam_policy(request=iam_policy_pb2.GetIamPolicyRequest(resource=name))
    policy.bindings.append(policy_pb2.Binding(role="roles/run.invoker", members=["user:a@example.com"]))
    newp = jobs.set_iam_policy(request=iam_policy_pb2.SetIamPolicyRequest(resource=name, policy=policy))
    assert list(newp.bindings[0].members) == ["user:a@example.com"], newp
    perms = jobs.test_iam_permissions(
        request=iam_policy_pb2.TestIamPermissionsRequest(resource=name, permissions=["run.jobs.run"])
    )
    print("iam ok:", list(perms.permissions))

    executions.delete_execution(name=execution.name).result(timeout=30)
    jobs.delete_job(name=name).result(timeout=30)
    jobs.delete_job(name=f"{parent}/jobs/pyjob2").result(timeout=30)
    remaining = list(jobs.list_jobs(parent=parent))
    assert remaining == [], remaining
    print("delete ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
