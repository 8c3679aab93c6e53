"""Drive the local runtime's Secret Manager with Google's own client (REST transport,
anonymous credentials). Run by tests/it/python.rs.

Usage: python3 secretmanager_check.py ENDPOINT PROJECT REGION
"""
import sys

from google.api_core import exceptions
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import secretmanager_v1 as sm
from google.iam.v1 import iam_policy_pb2, policy_pb2


def main() -> int:
    endpoint, project, _ = sys.argv[1], sys.argv[2], sys.argv[3]
    client = sm.SecretManagerServiceClient(
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=endpoint),
        transport="rest",
    )
    parent = f"projects/{project}"
    secret = client.create_secret(
        parent=parent,
        secret_id="db-password",
        secret=sm.Secret(replication=sm.Replication(automatic=sm.Replication.Automatic()), labels={"team": "data"}),
    )
    assert secret.name == f"{parent}/secrets/db-password", secret.name
    assert secret.labels["team"] == "data"
    print("create ok")

    v1 = client.add_secret_version(parent=secret.name, payload=sm.SecretPayload(data=b"first"))
    v2 = client.add_secret_version(parent=secret.name, payload=sm.SecretPayload(data=b"second"))
    assert v1.name.endswith("/versions/1") and v2.name.endswith("/versions/2"), (v1.name, v2.name)
    latest = client.access_secret_version(name=f"{secret.name}/versions/latest")
    assert latest.payload.data == b"second", latest.payload.data
    assert client.access_secret_version(name=v1.name).payload.data == b"first"
    print("versions ok")

    listed = [v.name for v in client.list_secret_versions(parent=secret.name)]
    assert listed == [v2.name, v1.name], listed
    client.disable_secret_version(name=v2.name)
    # `latest` is the newest enabled version.
    assert client.access_secret_version(name=f"{secret.name}/versions/latest").payload.data == b"first"
    try:
        client.access_secret_version(name=v2.name)
        raise AssertionError("expected an error")
    except exceptions.BadRequest as e:  # FAILED_PRECONDITION is HTTP 400, as on Google
        assert "DISABLED" in str(e), e
    client.enable_secret_version(name=v2.name)
    client.destroy_secret_version(name=v1.name)
    assert client.get_secret_version(name=v1.name).state == sm.SecretVersion.State.DESTROYED
    print("states ok")

    updated = client.update_secret(
        secret=sm.Secret(name=secret.name, labels={"team": "ops"}),
        update_mask={"paths": ["labels"]},
    )
    assert updated.labels["team"] == "ops", updated.labels
    print("update ok")

    policy = client.get_iam_policy(request=iam_policy_pb2.GetIamPolicyRequest(resource=secret.name))
    policy.bindings.append(policy_pb2.Binding(role="roles/secretmanager.secretAccessor",
                                              members=["serviceAccount:app@p.iam.gserviceaccount.com"]))
    newp = client.set_iam_policy(request=iam_policy_pb2.SetIamPolicyRequest(resource=secret.name, policy=policy))
    assert newp.bindings[0].role == "roles/secretmanager.secretAccessor", newp
    print("iam ok")

    try:
        client.get_secret(name=f"{parent}/secrets/missing")
        raise AssertionError("expected NotFound")
    except exceptions.NotFound:
        pass
    try:
        client.create_secret(parent=parent, secret_id="db-password",
                             secret=sm.Secret(replication=sm.Replication(automatic=sm.Replication.Automatic())))
        raise AssertionError("expected AlreadyExists")
    except exceptions.Conflict:
        pass
    print("errors ok")

    client.delete_secret(name=secret.name)
    assert [s.name for s in client.list_secrets(parent=parent)] == []
    print("delete ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
