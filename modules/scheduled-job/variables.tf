variable "name" {
  type        = string
  description = "Name of the Cloud Run job and of its Cloud Scheduler job."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,48}[a-z0-9]$", var.name))
    error_message = "name must be 2-50 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "image" {
  type        = string
  description = "Container image of the job."
}

variable "schedule" {
  type        = string
  description = "unix-cron schedule (5 fields), e.g. \"0 2 * * *\"."
}

variable "time_zone" {
  type        = string
  default     = "Etc/UTC"
  description = "tz database time zone the schedule is read in."
}

variable "location" {
  type        = string
  default     = null
  description = "Region of the job and the scheduler job (default: the provider's region)."
}

variable "command" {
  type    = list(string)
  default = null
}

variable "args" {
  type    = list(string)
  default = null
}

variable "env" {
  type        = map(string)
  default     = {}
  description = "Environment variables of the job's container."
}

variable "task_count" {
  type    = number
  default = 1
}

variable "parallelism" {
  type    = number
  default = null
}

variable "max_retries" {
  type    = number
  default = 3
}

variable "timeout" {
  type    = string
  default = "600s"
}

variable "limits" {
  type        = map(string)
  default     = null
  description = "Container resource limits, e.g. { cpu = \"2\", memory = \"4Gi\" }."
}

variable "retry_count" {
  type        = number
  default     = 0
  description = "Cloud Scheduler retries of a failed attempt."
}

variable "paused" {
  type    = bool
  default = false
}

variable "service_account_id" {
  type        = string
  default     = null
  description = "account_id of the scheduler's service account (default: NAME-sched, shortened to 30 characters)."
}

variable "deletion_protection" {
  type        = bool
  default     = true
  description = "As on google_cloud_run_v2_job: set to false before destroying."
}
