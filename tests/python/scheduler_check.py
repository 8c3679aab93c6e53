"""Drive the local runtime's Cloud Scheduler API with Google's own client (REST transport,
anonymous credentials). Run by tests/it/python.rs.

Usage: python3 scheduler_check.py ENDPOINT PROJECT REGION
"""
import sys

from google.api_core import exceptions
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import run_v2, scheduler_v1
from google.protobuf import field_mask_pb2


def main() -> int:
    endpoint, project, region = sys.argv[1], sys.argv[2], sys.argv[3]
    opts = ClientOptions(api_endpoint=endpoint)
    creds = AnonymousCredentials()
    sched = scheduler_v1.CloudSchedulerClient(credentials=creds, client_options=opts, transport="rest")
    jobs = run_v2.JobsClient(credentials=creds, client_options=opts, transport="rest")
    parent = f"projects/{project}/locations/{region}"

    # A Cloud Run job for the scheduler to run.
    jobs.create_job(
        parent=parent,
        job_id="target",
        job=run_v2.Job(
            template=run_v2.ExecutionTemplate(
                template=run_v2.TaskTemplate(
                    containers=[run_v2.Container(image="busybox", command=["/bin/sh", "-c", "echo run by scheduler"])]
                )
            )
        ),
    ).result(timeout=30)

    name = f"{parent}/jobs/nightly"
    job = scheduler_v1.Job(
        name=name,
        description="d",
        schedule="0 3 * * *",
        time_zone="America/New_York",
        http_target=scheduler_v1.HttpTarget(
            uri=f"https://run.googleapis.com/v2/{parent}/jobs/target:run",
            http_method=scheduler_v1.HttpMethod.POST,
            headers={"Content-Type": "application/json"},
            body=b'{"overrides":{}}',
            oauth_token=scheduler_v1.OAuthToken(service_account_email=f"cron@{project}.iam.gserviceaccount.com"),
        ),
        retry_config=scheduler_v1.RetryConfig(retry_count=2),
        attempt_deadline="180s",
    )
    created = sched.create_job(parent=parent, job=job)
    assert created.name == name, created.name
    assert created.state == scheduler_v1.Job.State.ENABLED, created.state
    assert created.schedule_time.year >= 2024, created.schedule_time
    assert created.http_target.oauth_token.scope == "https://www.googleapis.com/auth/cloud-platform"
    print("create ok:", created.name)

    got = sched.get_job(name=name)
    assert got.time_zone == "America/New_York" and got.http_target.body == b'{"overrides":{}}'
    print("get ok")

    sched.create_job(parent=parent, job=scheduler_v1.Job(name=f"{parent}/jobs/second", schedule="*/5 * * * *",
                                                         http_target=scheduler_v1.HttpTarget(uri="http://127.0.0.1:9/")))
    listed = sorted(j.name for j in sched.list_jobs(request={"parent": parent, "page_size": 1}))
    assert listed == [name, f"{parent}/jobs/second"], listed
    print("list ok:", len(listed))

    updated = sched.update_job(
        job=scheduler_v1.Job(name=name, schedule="0 4 * * *"),
        update_mask=field_mask_pb2.FieldMask(paths=["schedule"]),
    )
    assert updated.schedule == "0 4 * * *" and updated.description == "d", updated
    print("update ok")

    paused = sched.pause_job(name=name)
    assert paused.state == scheduler_v1.Job.State.PAUSED
    resumed = sched.resume_job(name=name)
    assert resumed.state == scheduler_v1.Job.State.ENABLED
    print("pause/resume ok")

    # Without a grant on the Cloud Run job, the attempt is denied and recorded; nothing runs.
    denied = sched.run_job(name=name)
    assert denied.status.code == 7, denied.status
    from google.iam.v1 import iam_policy_pb2, policy_pb2

    target = f"{parent}/jobs/target"
    policy = jobs.get_iam_policy(request=iam_policy_pb2.GetIamPolicyRequest(resource=target))
    policy.bindings.append(policy_pb2.Binding(role="roles/run.jobsExecutorWithOverrides",
                                              members=[f"serviceAccount:cron@{project}.iam.gserviceaccount.com"]))
    jobs.set_iam_policy(request=iam_policy_pb2.SetIamPolicyRequest(resource=target, policy=policy))
    ran = sched.run_job(name=name)
    assert ran.last_attempt_time.year >= 2024, ran
    assert ran.status.code == 0, ran.status
    executions = list(run_v2.ExecutionsClient(credentials=creds, client_options=opts, transport="rest")
                      .list_executions(parent=f"{parent}/jobs/target"))
    assert len(executions) == 1, executions
    print("run ok:", executions[0].name)

    try:
        sched.get_job(name=f"{parent}/jobs/missing")
        raise AssertionError("expected NotFound")
    except exceptions.NotFound:
        pass
    try:
        sched.create_job(parent=parent, job=scheduler_v1.Job(name=f"{parent}/jobs/bad", schedule="99 * * * *",
                                                             http_target=scheduler_v1.HttpTarget(uri="https://x")))
        raise AssertionError("expected InvalidArgument")
    except exceptions.BadRequest as e:
        assert "minute" in str(e), e
    print("errors ok")

    sched.delete_job(name=name)
    sched.delete_job(name=f"{parent}/jobs/second")
    assert list(sched.list_jobs(parent=parent)) == []
    print("delete ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
