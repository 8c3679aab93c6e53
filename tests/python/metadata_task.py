"""Runs as a task of a job on the local runtime: Google's auth library finds the runtime's
metadata server through GCE_METADATA_HOST/IP, learns the project and the job's account, and
calls the runtime's Cloud Run API with the account's token. Prints what it learned."""
import os
import sys
import urllib.request

import google.auth
import google.auth.transport.requests

host = os.environ["GCE_METADATA_HOST"]
# Google's metadata server refuses requests without the header.
try:
    urllib.request.urlopen(f"http://{host}/computeMetadata/v1/project/project-id")
    print("no-header request unexpectedly answered")
except urllib.error.HTTPError as e:
    print("no-header:", e.code)

creds, project = google.auth.default()
session = google.auth.transport.requests.AuthorizedSession(creds)
print("project:", project)
print("email:", creds.service_account_email if hasattr(creds, "service_account_email") else "?")
r = session.get(f"{os.environ['RUNTIME_URL']}/v2/projects/{project}/locations/{os.environ['REGION']}/jobs")
print("email after refresh:", creds.service_account_email)
print("list jobs:", r.status_code)
sys.stdout.flush()

# STORAGE_EMULATOR_HOST, set by the runtime for every task, points google-cloud-storage at the
# runtime's buckets.
from google.cloud import storage

client = storage.Client(project=project)
blob = client.bucket(os.environ["OUT_BUCKET"]).blob(f"from-{os.environ['CLOUD_RUN_JOB']}.txt")
blob.upload_from_string(f"written by {os.environ['CLOUD_RUN_JOB']}")
print("storage read back:", client.bucket(os.environ["OUT_BUCKET"]).blob(blob.name).download_as_text())
sys.stdout.flush()
