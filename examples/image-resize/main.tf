# Image resize: an upload to the input bucket fires an Eventarc trigger, which starts a
# workflow (Google's "execute Cloud Run jobs on a Cloud Storage event" pattern), which runs the
# resize job with the object's name as an env override. The job's tasks split the work by
# CLOUD_RUN_TASK_INDEX (here: one size each).
#
#   runform apply --local --auto-approve examples/image-resize
#   runform local upload --dir examples/image-resize photo.jpg gs://input-runform-local/photos/photo.jpg
#   runform executions --local resize        # then: runform logs --local EXECUTION

provider "google" {
  project = "runform-local"
  region  = "us-central1"
}

resource "google_storage_bucket" "input" {
  name                        = "input-runform-local"
  location                    = "us-central1"
  uniform_bucket_level_access = true
  force_destroy               = true
}

# The workflow's identity; it may run (with overrides) this one job, nothing else.
resource "google_service_account" "workflow" {
  account_id   = "image-resize-workflow"
  display_name = "Runs the resize job on uploads"
}

resource "google_cloud_run_v2_job" "resize" {
  name                = "resize"
  location            = "us-central1"
  deletion_protection = false

  template {
    task_count  = 4
    parallelism = 4

    template {
      max_retries = 1
      timeout     = "600s"

      containers {
        image   = "us-docker.pkg.dev/cloudrun/container/job:latest"
        command = ["/bin/sh", "-c"]
        args = [<<-EOT
          SIZES="64 128 256 512"
          SIZE=$(echo $SIZES | cut -d' ' -f$((CLOUD_RUN_TASK_INDEX + 1)))
          echo "task $CLOUD_RUN_TASK_INDEX: resizing gs://$INPUT_BUCKET/$INPUT_FILE to $${SIZE}px"
        EOT
        ]
      }
    }
  }
}

resource "google_cloud_run_v2_job_iam_member" "workflow_runs_resize" {
  name   = google_cloud_run_v2_job.resize.name
  role   = "roles/run.jobsExecutorWithOverrides"
  member = google_service_account.workflow.member
}

resource "google_workflows_workflow" "on_upload" {
  name            = "resize-on-upload"
  deletion_protection = false
  service_account = google_service_account.workflow.email
  source_contents = <<-EOT
    main:
      params: [event]
      steps:
        - init:
            assign:
              - project_id: $${sys.get_env("GOOGLE_CLOUD_PROJECT_ID")}
              - event_bucket: $${event.data.bucket}
              - event_file: $${event.data.name}
              - job_name: resize
              - job_location: us-central1
        - run_job:
            call: googleapis.run.v1.namespaces.jobs.run
            args:
              name: $${"namespaces/" + project_id + "/jobs/" + job_name}
              location: $${job_location}
              body:
                overrides:
                  containerOverrides:
                    env:
                      - name: INPUT_BUCKET
                        value: $${event_bucket}
                      - name: INPUT_FILE
                        value: $${event_file}
            result: job_execution
        - finish:
            return: $${job_execution}
  EOT

  depends_on = [google_cloud_run_v2_job_iam_member.workflow_runs_resize]
}

# Eventarc starts the workflow as this account: it needs roles/workflows.invoker on the
# project (enforced by the local runtime, as by Google).
resource "google_project_iam_member" "workflow_invoker" {
  project = "runform-local"
  role    = "roles/workflows.invoker"
  member  = google_service_account.workflow.member
}

resource "google_eventarc_trigger" "uploads" {
  name            = "resize-uploads"
  location        = "us-central1"
  service_account = google_service_account.workflow.email

  matching_criteria {
    attribute = "type"
    value     = "google.cloud.storage.object.v1.finalized"
  }
  matching_criteria {
    attribute = "bucket"
    value     = google_storage_bucket.input.name
  }

  destination {
    workflow = google_workflows_workflow.on_upload.id
  }

  depends_on = [google_project_iam_member.workflow_invoker]
}

output "upload_to" {
  value = "${google_storage_bucket.input.url}/"
}
