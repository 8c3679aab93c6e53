"""Google's own auth library and Cloud Run client calling the local runtime as service
accounts: a key whose token_uri is the runtime's token endpoint (the JWT-bearer grant), and
impersonation through IAM Credentials generateAccessToken. Run by tests/it/python.rs.

Usage: python3 auth_check.py ENDPOINT PROJECT REGION KEY_PEM
"""
import json
import sys
import urllib.request

from google.api_core import exceptions
from google.api_core.client_options import ClientOptions
from google.auth import impersonated_credentials
from google.cloud import run_v2
from google.oauth2 import service_account

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


def call(endpoint, method, path, body):
    """A call without a token: the runtime's local owner sets things up."""
    req = urllib.request.Request(
        endpoint + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def job(image="busybox"):
    return run_v2.Job(
        template=run_v2.ExecutionTemplate(
            template=run_v2.TaskTemplate(containers=[run_v2.Container(image=image)])
        )
    )


def main() -> int:
    endpoint, project, region, pem_path = sys.argv[1:5]
    for account in ["pydeployer", "pyreader"]:
        call(endpoint, "POST", f"/v1/projects/{project}/serviceAccounts", {"accountId": account})
    deployer = f"pydeployer@{project}.iam.gserviceaccount.com"
    reader = f"pyreader@{project}.iam.gserviceaccount.com"
    policy = call(endpoint, "POST", f"/v1/projects/{project}:getIamPolicy", {})
    policy["bindings"] = [
        {"role": "roles/run.admin", "members": [f"serviceAccount:{deployer}"]},
        {"role": "roles/iam.serviceAccountTokenCreator", "members": [f"serviceAccount:{deployer}"]},
    ]
    call(endpoint, "POST", f"/v1/projects/{project}:setIamPolicy", {"policy": policy})
    print("setup ok")

    pem = open(pem_path).read()

    def key_credentials(email):
        info = {
            "type": "service_account",
            "project_id": project,
            "private_key_id": "0123",
            "private_key": pem,
            "client_email": email,
            "client_id": "1",
            "token_uri": endpoint + "/token",
        }
        return service_account.Credentials.from_service_account_info(info, scopes=SCOPES)

    opts = ClientOptions(api_endpoint=endpoint)
    parent = f"projects/{project}/locations/{region}"

    jobs = run_v2.JobsClient(credentials=key_credentials(deployer), client_options=opts, transport="rest")
    created = jobs.create_job(parent=parent, job=job(), job_id="keyjob").result(timeout=30)
    assert created.creator == deployer, created.creator
    print("key create ok:", created.creator)

    jobs = run_v2.JobsClient(credentials=key_credentials(reader), client_options=opts, transport="rest")
    try:
        jobs.create_job(parent=parent, job=job(), job_id="readerjob").result(timeout=30)
        print("reader create unexpectedly succeeded", file=sys.stderr)
        return 1
    except exceptions.Forbidden as e:
        assert "run.jobs.create" in str(e), str(e)
        print("reader denied ok:", e.code)

    # The deployer (a token creator on the project) impersonates the reader... who may not create.
    as_reader = impersonated_credentials.Credentials(
        source_credentials=key_credentials(deployer),
        target_principal=reader,
        target_scopes=SCOPES,
        iam_endpoint_override=f"{endpoint}/v1/projects/-/serviceAccounts/{reader}:generateAccessToken",
    )
    jobs = run_v2.JobsClient(credentials=as_reader, client_options=opts, transport="rest")
    try:
        jobs.create_job(parent=parent, job=job(), job_id="impjob").result(timeout=30)
        print("impersonated create unexpectedly succeeded", file=sys.stderr)
        return 1
    except exceptions.Forbidden as e:
        assert "run.jobs.create" in str(e), str(e)
        print("impersonated reader denied ok")
    # ...and the reader impersonates the deployer: refused (not a token creator).
    as_deployer = impersonated_credentials.Credentials(
        source_credentials=key_credentials(reader),
        target_principal=deployer,
        target_scopes=SCOPES,
        iam_endpoint_override=f"{endpoint}/v1/projects/-/serviceAccounts/{deployer}:generateAccessToken",
    )
    jobs = run_v2.JobsClient(credentials=as_deployer, client_options=opts, transport="rest")
    try:
        jobs.get_job(name=f"{parent}/jobs/keyjob")
        print("impersonation by a non-token-creator unexpectedly worked", file=sys.stderr)
        return 1
    except Exception as e:  # google.auth.exceptions.RefreshError
        assert "getAccessToken" in str(e), str(e)
        print("impersonation refused ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
