# Quickstart: a Cloud Run job with several parallel tasks, created and executed on apply.
#
#   cargo run --release -- apply --local --auto-approve examples/quickstart

variable "tasks" {
  type        = number
  default     = 6
  description = "How many tasks the job runs"
}

provider "google" {
  region = "us-central1"
}

resource "google_cloud_run_v2_job" "hello" {
  name                = "hello"
  location            = "us-central1"
  deletion_protection = false

  template {
    task_count  = var.tasks
    parallelism = 3

    template {
      max_retries = 1
      timeout     = "60s"

      containers {
        image   = "us-docker.pkg.dev/cloudrun/container/job:latest"
        command = ["/bin/sh", "-c"]
        args    = ["echo \"hello from task $CLOUD_RUN_TASK_INDEX of $CLOUD_RUN_TASK_COUNT (attempt $CLOUD_RUN_TASK_ATTEMPT) on $GREETING\"; sleep 0.2"]

        env {
          name  = "GREETING"
          value = "the local runtime"
        }
      }
    }
  }
}

# Run the job once it exists, again whenever its template changes, and wait for it.
resource "runform_job_execution" "hello" {
  job  = google_cloud_run_v2_job.hello.id
  wait = true
}

output "job" {
  value = google_cloud_run_v2_job.hello.id
}
