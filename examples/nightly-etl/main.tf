# Nightly ETL: Cloud Scheduler runs a 50-task Cloud Run job at 02:00 New York time.
# The scheduler calls the job's :run URL as a dedicated service account, created here, that
# holds only roles/run.invoker on this one job (never a project-wide grant).
#
#   runform apply --local --auto-approve examples/nightly-etl
#   runform local serve --dir examples/nightly-etl     # keeps the schedule firing locally
#
# On the local runtime the scheduler fires on the wall clock of America/New_York, and its
# attempts are recorded (GET /runform/v1/scheduler/attempts?job=NAME).

variable "project" {
  type    = string
  default = "runform-local"
}

variable "region" {
  type    = string
  default = "us-central1"
}

provider "google" {
  project = var.project
  region  = var.region
}

# The identity the scheduler calls the job as.
resource "google_service_account" "scheduler" {
  account_id   = "etl-scheduler"
  display_name = "Runs the nightly ETL"
}

resource "google_cloud_run_v2_job" "etl" {
  name                = "nightly-etl"
  location            = var.region
  deletion_protection = false

  template {
    task_count  = 50
    parallelism = 10

    template {
      max_retries = 3
      timeout     = "3600s"

      containers {
        image   = "us-docker.pkg.dev/cloudrun/container/job:latest"
        command = ["/bin/sh", "-c"]
        args    = ["echo \"shard $CLOUD_RUN_TASK_INDEX/$CLOUD_RUN_TASK_COUNT of the nightly load\""]

        resources {
          limits = {
            cpu    = "4"
            memory = "8Gi"
          }
        }
      }
    }
  }
}

# Least privilege: run.jobs.run on this job only.
resource "google_cloud_run_v2_job_iam_member" "scheduler_runs_etl" {
  name     = google_cloud_run_v2_job.etl.name
  location = var.region
  role     = "roles/run.invoker"
  member   = google_service_account.scheduler.member
}

resource "google_cloud_scheduler_job" "nightly" {
  name        = "nightly-etl"
  description = "Runs the nightly ETL"
  schedule    = "0 2 * * *"
  time_zone   = "America/New_York"

  retry_config {
    retry_count = 1
  }

  http_target {
    http_method = "POST"
    uri         = "https://run.googleapis.com/v2/projects/${var.project}/locations/${var.region}/jobs/${google_cloud_run_v2_job.etl.name}:run"

    # A Google API: OAuth, not OIDC.
    oauth_token {
      service_account_email = google_service_account.scheduler.email
    }
  }

  depends_on = [google_cloud_run_v2_job_iam_member.scheduler_runs_etl]
}

output "schedule" {
  value = "${google_cloud_scheduler_job.nightly.schedule} (${google_cloud_scheduler_job.nightly.time_zone})"
}
