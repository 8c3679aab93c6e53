# Database migration: a one-task job (4Gi, long timeout) that runs on every apply that changes
# it or the release, before what depends on it. Here the ETL job that reads the new schema is
# only created or updated after the migration has succeeded; a failed migration stops the apply
# there, names the failed task and prints the tail of its log.
#
#   runform apply --local --auto-approve examples/db-migration
#   runform apply --local --auto-approve --var release=2026.11.2 examples/db-migration

variable "release" {
  type        = string
  default     = "2026.11.1"
  description = "The application release whose schema the migration brings the database to"
}

provider "google" {
  project = "runform-local"
  region  = "us-central1"
}

resource "google_cloud_run_v2_job" "migrate" {
  name                = "db-migrate"
  location            = "us-central1"
  deletion_protection = false

  template {
    task_count = 1

    template {
      max_retries = 0
      timeout     = "3600s"

      containers {
        image   = "us-docker.pkg.dev/cloudrun/container/job:latest"
        command = ["/bin/sh", "-c"]
        args    = ["echo \"migrating schema to $RELEASE\"; echo \"schema at $RELEASE\""]

        env {
          name  = "RELEASE"
          value = var.release
        }

        resources {
          limits = {
            cpu    = "1"
            memory = "4Gi"
          }
        }
      }
    }
  }
}

# Execute the migration on create, on template change, and when the release changes.
resource "runform_job_execution" "migrate" {
  job      = google_cloud_run_v2_job.migrate.id
  triggers = { release = var.release }
  wait     = true
  timeout  = "3600s"
}

# Depends on the migration having run: updated only after it succeeded.
resource "google_cloud_run_v2_job" "etl" {
  name                = "etl"
  location            = "us-central1"
  deletion_protection = false

  template {
    template {
      containers {
        image   = "us-docker.pkg.dev/cloudrun/container/job:latest"
        command = ["/bin/sh", "-c", "echo reading schema $RELEASE"]

        env {
          name  = "RELEASE"
          value = var.release
        }
      }
    }
  }

  depends_on = [runform_job_execution.migrate]
}
