# runform/event-job: a Cloud Run job run for every Cloud Storage event in a bucket, with
# Google's documented glue: an Eventarc trigger starts a workflow, and the workflow runs the
# job with the object's name in an env var (INPUT_FILE by default) and the bucket in
# INPUT_BUCKET. One service account, created here, is the trigger's and the workflow's
# identity; it may run this one job (with overrides) and start workflows in the project
# (roles/workflows.invoker, which Eventarc needs), nothing else.
#
#   module "resize" {
#     source = "runform/event-job"
#     name   = "resize"
#     image  = "us-docker.pkg.dev/cloudrun/container/job:latest"
#     bucket = "my-uploads"
#   }

data "google_client_config" "current" {}

locals {
  location = coalesce(var.location, data.google_client_config.current.region)
}

resource "google_storage_bucket" "this" {
  count = var.create_bucket ? 1 : 0

  name                        = var.bucket
  location                    = local.location
  uniform_bucket_level_access = true
  force_destroy               = true
}

resource "google_service_account" "this" {
  account_id   = trimsuffix(substr("${var.name}-events", 0, 30), "-")
  display_name = "Runs ${var.name} on events in ${var.bucket}"
}

resource "google_cloud_run_v2_job" "this" {
  name                = var.name
  location            = local.location
  deletion_protection = var.deletion_protection

  template {
    task_count  = var.task_count
    parallelism = var.parallelism

    template {
      max_retries = var.max_retries
      timeout     = var.timeout

      containers {
        image   = var.image
        command = var.command
        args    = var.args

        dynamic "env" {
          for_each = var.env
          content {
            name  = env.key
            value = env.value
          }
        }
      }
    }
  }
}

resource "google_cloud_run_v2_job_iam_member" "this" {
  name     = google_cloud_run_v2_job.this.name
  location = google_cloud_run_v2_job.this.location
  role     = "roles/run.jobsExecutorWithOverrides"
  member   = google_service_account.this.member
}

# Eventarc starts the workflow as the same account: workflows.invoker on the project.
resource "google_project_iam_member" "invoker" {
  project = data.google_client_config.current.project
  role    = "roles/workflows.invoker"
  member  = google_service_account.this.member
}

resource "google_workflows_workflow" "this" {
  name            = "${var.name}-on-event"
  deletion_protection = false
  region          = local.location
  description     = "Runs ${var.name} for each event from ${var.bucket}"
  service_account = google_service_account.this.email
  source_contents = <<-EOT
    main:
      params: [event]
      steps:
        - init:
            assign:
              - project_id: $${sys.get_env("GOOGLE_CLOUD_PROJECT_ID")}
              - event_bucket: $${event.data.bucket}
              - event_file: $${event.data.name}
        - run_job:
            call: googleapis.run.v1.namespaces.jobs.run
            args:
              name: $${"namespaces/" + project_id + "/jobs/${google_cloud_run_v2_job.this.name}"}
              location: ${google_cloud_run_v2_job.this.location}
              body:
                overrides:
                  containerOverrides:
                    env:
                      - name: INPUT_BUCKET
                        value: $${event_bucket}
                      - name: ${var.input_env}
                        value: $${event_file}
            result: job_execution
        - finish:
            return: $${job_execution}
  EOT

  depends_on = [google_cloud_run_v2_job_iam_member.this]
}

resource "google_eventarc_trigger" "this" {
  name            = "${var.name}-events"
  location        = local.location
  service_account = google_service_account.this.email

  matching_criteria {
    attribute = "type"
    value     = var.event_type
  }
  matching_criteria {
    attribute = "bucket"
    value     = var.create_bucket ? google_storage_bucket.this[0].name : var.bucket
  }

  destination {
    workflow = google_workflows_workflow.this.id
  }

  depends_on = [google_project_iam_member.invoker]
}
