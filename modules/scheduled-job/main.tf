# runform/scheduled-job: a Cloud Run job that Cloud Scheduler runs on a cron schedule, as a
# service account created for it that may run this one job and nothing else.
#
#   module "etl" {
#     source   = "runform/scheduled-job"
#     name     = "nightly-etl"
#     image    = "us-docker.pkg.dev/cloudrun/container/job:latest"
#     schedule = "0 2 * * *"
#   }

data "google_client_config" "current" {}

locals {
  location   = coalesce(var.location, data.google_client_config.current.region)
  account_id = coalesce(var.service_account_id, trimsuffix(substr("${var.name}-sched", 0, 30), "-"))
}

resource "google_service_account" "scheduler" {
  account_id   = local.account_id
  display_name = "Runs ${var.name} on its schedule"
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

        dynamic "resources" {
          for_each = var.limits == null ? [] : [var.limits]
          content {
            limits = resources.value
          }
        }
      }
    }
  }
}

# Least privilege: run.jobs.run on this job only.
resource "google_cloud_run_v2_job_iam_member" "scheduler" {
  name     = google_cloud_run_v2_job.this.name
  location = google_cloud_run_v2_job.this.location
  role     = "roles/run.invoker"
  member   = google_service_account.scheduler.member
}

resource "google_cloud_scheduler_job" "this" {
  name        = var.name
  region      = google_cloud_run_v2_job.this.location
  description = "Runs the Cloud Run job ${var.name}"
  schedule    = var.schedule
  time_zone   = var.time_zone
  paused      = var.paused

  retry_config {
    retry_count = var.retry_count
  }

  http_target {
    http_method = "POST"
    uri         = "https://run.googleapis.com/v2/projects/${google_cloud_run_v2_job.this.project}/locations/${google_cloud_run_v2_job.this.location}/jobs/${google_cloud_run_v2_job.this.name}:run"

    # A Google API: OAuth, not OIDC.
    oauth_token {
      service_account_email = google_service_account.scheduler.email
    }
  }

  depends_on = [google_cloud_run_v2_job_iam_member.scheduler]
}
