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

    # A 20 MB file: the client switches to a resumable upload (over 8 MiB), in 4 MiB
    # chunks here (each answered 308 with the Range stored), and checks the crc32c at the end.
    big = bytes((i * 7919) % 251 for i in range(20 * 1024 * 1024))
    chunked = bucket.blob("big.bin", chunk_size=4 * 1024 * 1024)
    chunked.upload_from_string(big, content_type="application/octet-stream")
    one_put = bucket.blob("big2.bin")
    one_put.upload_from_string(big)
    for name in ("big.bin", "big2.bin"):
        got = bucket.get_blob(name)
        assert got.size == len(big), (name, got.size)
        assert got.download_as_bytes() == big, name
    print("resumable ok")

    # Ranged reads (the whole-object hashes are not checked on a part).
    part = bucket.blob("big.bin").download_as_bytes(start=10, end=19)
    assert part == big[10:20], part
    assert bucket.blob("dir/hello.txt").download_as_bytes(start=6) == b"world"
    print("range ok")

    # Listing with a delimiter rolls names up into prefixes; offsets bound the names.
    for name in ("dir/a.txt", "dir/sub/b.txt", "dir/sub/c.txt", "top.txt"):
        bucket.blob(name).upload_from_string(name)
    it = client.list_blobs("py-bucket", prefix="dir/", delimiter="/")
    names = [b.name for b in it]
    assert names == ["dir/a.txt", "dir/hello.txt"], names
    assert sorted(it.prefixes) == ["dir/sub/"], it.prefixes
    ranged = [b.name for b in client.list_blobs("py-bucket", start_offset="dir/s", end_offset="top")]
    assert ranged == ["dir/sub/b.txt", "dir/sub/c.txt"], ranged
    paged = [b.name for b in client.list_blobs("py-bucket", prefix="dir/", max_results=10, page_size=2)]
    assert paged == ["dir/a.txt", "dir/hello.txt", "dir/sub/b.txt", "dir/sub/c.txt"], paged
    print("delimiter ok")

    # Metadata patch: a new metageneration, generation unchanged; a stale one is refused.
    b = bucket.get_blob("dir/a.txt")
    generation, metageneration = b.generation, b.metageneration
    b.metadata = {"team": "data"}
    b.content_type = "text/x-note"
    b.patch()
    again = bucket.get_blob("dir/a.txt")
    assert again.metadata == {"team": "data"} and again.content_type == "text/x-note", again.metadata
    assert again.generation == generation and again.metageneration == metageneration + 1
    try:
        b.patch(if_metageneration_match=metageneration)
        raise AssertionError("expected PreconditionFailed")
    except exceptions.PreconditionFailed:
        pass
    print("patch ok")

    # Copy and rewrite to another name, and compose three objects into one.
    copied = bucket.copy_blob(bucket.blob("dir/a.txt"), bucket, "copies/a.txt")
    assert copied.download_as_bytes() == b"dir/a.txt" and copied.metadata == {"team": "data"}
    token, done, total = bucket.blob("copies/rewritten.txt").rewrite(bucket.blob("top.txt"))
    assert token is None and done == total == len(b"top.txt"), (token, done, total)
    assert bucket.blob("copies/rewritten.txt").download_as_bytes() == b"top.txt"
    composed = bucket.blob("composed.txt")
    composed.compose([bucket.blob("dir/a.txt"), bucket.blob("top.txt"), bucket.blob("dir/sub/b.txt")])
    composed.reload()
    assert composed.download_as_bytes() == b"dir/a.txttop.txtdir/sub/b.txt"
    assert composed.component_count == 3, composed.component_count
    print("copy compose ok")

    # Preconditions: create-only refuses an existing object; a delete by a stale generation too.
    try:
        bucket.blob("top.txt").upload_from_string("again", if_generation_match=0)
        raise AssertionError("expected PreconditionFailed")
    except exceptions.PreconditionFailed:
        pass
    try:
        bucket.blob("top.txt").delete(if_generation_match=1)
        raise AssertionError("expected PreconditionFailed")
    except exceptions.PreconditionFailed:
        pass
    print("preconditions ok")

    for b in list(client.list_blobs("py-bucket")):
        b.delete()
    bucket.delete()
    print("delete ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
