"""Drive the local runtime's Eventarc API with Google's own client (REST transport, anonymous
credentials). Run by tests/it/python.rs.

Usage: python3 eventarc_check.py ENDPOINT PROJECT REGION
"""
import sys

from google.api_core import exceptions
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import eventarc_v1
from google.protobuf import field_mask_pb2


def main() -> int:
    endpoint, project, region = sys.argv[1], sys.argv[2], sys.argv[3]
    client = eventarc_v1.EventarcClient(
        credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=endpoint), transport="rest"
    )
    parent = f"projects/{project}/locations/{region}"
    name = f"{parent}/triggers/uploads"
    trigger = eventarc_v1.Trigger(
        name=name,
        event_filters=[
            eventarc_v1.EventFilter(attribute="type", value="google.cloud.storage.object.v1.finalized"),
            eventarc_v1.EventFilter(attribute="bucket", value="my-bucket"),
        ],
        service_account=f"trigger@{project}.iam.gserviceaccount.com",
        destination=eventarc_v1.Destination(workflow=f"{parent}/workflows/wf"),
        labels={"a": "b"},
    )
    created = client.create_trigger(parent=parent, trigger=trigger, trigger_id="uploads").result(timeout=30)
    assert created.name == name and created.uid, created
    assert created.event_data_content_type == "application/json"
    print("create ok:", created.name)

    got = client.get_trigger(name=name)
    assert [f.attribute for f in got.event_filters] == ["type", "bucket"], got.event_filters
    print("get ok")

    listed = [t.name for t in client.list_triggers(parent=parent)]
    assert listed == [name], listed
    # `locations/-`: every location's triggers.
    project = parent.split("/")[1]
    everywhere = [t.name for t in client.list_triggers(parent=f"projects/{project}/locations/-")]
    assert everywhere == [name], everywhere
    print("list ok")

    updated = client.update_trigger(
        trigger=eventarc_v1.Trigger(name=name, labels={"c": "d"}),
        update_mask=field_mask_pb2.FieldMask(paths=["labels"]),
    ).result(timeout=30)
    assert dict(updated.labels) == {"c": "d"}, updated.labels
    assert updated.destination.workflow.endswith("/workflows/wf")
    print("update ok")

    try:
        client.get_trigger(name=f"{parent}/triggers/missing")
        raise AssertionError("expected NotFound")
    except exceptions.NotFound:
        pass
    print("errors ok")

    client.delete_trigger(name=name).result(timeout=30)
    assert list(client.list_triggers(parent=parent)) == []
    print("delete ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
