# The modules runform ships, used the GitOps way: one scheduled report job per entry of a map
# (for_each over a module), and an ingest job run for every upload to a bucket.
#
#   runform apply --local --auto-approve examples/modules
#   runform local upload --dir examples/modules data.csv gs://ingest-runform-local/in/data.csv
#   runform executions --local ingest --dir examples/modules
#
# Adding or removing a key of `reports` creates or deletes exactly that report's resources
# (module.report["KEY"].*); nothing else changes.

variable "reports" {
  description = "Report jobs by name: a cron schedule, and optionally tasks and time zone."
  type = map(object({
    schedule  = string
    tasks     = optional(number, 1)
    time_zone = optional(string, "Etc/UTC")
  }))
  default = {
    hourly = { schedule = "0 * * * *" }
    daily  = { schedule = "0 6 * * *", tasks = 3, time_zone = "Europe/Berlin" }
  }

  validation {
    condition     = alltrue([for k, r in var.reports : length(split(" ", r.schedule)) == 5])
    error_message = "Each report's schedule must be a 5-field unix-cron expression."
  }
}

provider "google" {
  project = "runform-local"
  region  = "us-central1"
}

locals {
  image = "us-docker.pkg.dev/cloudrun/container/job:latest"
}

module "report" {
  source   = "runform/scheduled-job"
  for_each = var.reports

  name       = "report-${each.key}"
  image      = local.image
  schedule   = each.value.schedule
  time_zone  = each.value.time_zone
  task_count = each.value.tasks
  command    = ["/bin/sh", "-c", "echo \"$REPORT report, part $CLOUD_RUN_TASK_INDEX of $CLOUD_RUN_TASK_COUNT\""]
  env        = { REPORT = each.key }

  deletion_protection = false
}

module "ingest" {
  source        = "runform/event-job"
  name          = "ingest"
  image         = local.image
  bucket        = "ingest-runform-local"
  create_bucket = true
  command       = ["/bin/sh", "-c", "echo \"ingesting gs://$INPUT_BUCKET/$INPUT_FILE\""]

  deletion_protection = false
}

output "report_jobs" {
  value = { for k, m in module.report : k => m.job_name }
}

output "upload_to" {
  value = "gs://${module.ingest.bucket}/"
}
