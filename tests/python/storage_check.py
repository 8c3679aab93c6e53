"""Drive the local runtime's Cloud Storage API with Google's own client, pointed at it with
STORAGE_EMULATOR_HOST (set by the caller). Run by tests/it/python.rs.

Usage: STORAGE_EMULATOR_HOST=http://127.0.0.1:PORT python3 storage_check.py ENDPOINT PROJECT REGION
"""
import sys

from google.api_core import exceptions
from google.cloud import storage


def main() -> int:
    _, project, _ = sys.argv[1], sys.argv[2], sys.argv[3]
    client = storage.Client(project=project)
    bucket = client.create_bucket("py-bucket", location="us-central1")
    assert bucket.name == "py-bucket", bucket
    print("bucket ok")

    blob = bucket.blob("dir/hello.txt")
    blob.upload_from_string("hello world", content_type="text/plain")
    got = bucket.get_blob("dir/hello.txt")
    assert got.size == 11 and got.content_type == "text/plain", (got.size, got.content_type)
    print("upload ok")

    assert bucket.blob("dir/hello.txt").download_as_bytes() == b"hello world"
    print("download ok")

    names = [b.name for b in client.list_blobs("py-bucket", prefix="dir/")]
    assert names == ["dir/hello.txt"], names
    print("list ok")

    try:
        bucket.blob("missing").download_as_bytes()
        raise AssertionError("expected NotFound")
    except exceptions.NotFound:
        pass
    print("errors ok")

    blob.delete()
    bucket.delete()
    print("delete ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
