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
