variable "name" {
  type        = string
  description = "Name of the Cloud Run job; the workflow and trigger are named after it."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,38}[a-z0-9]$", var.name))
    error_message = "name must be 2-40 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "image" {
  type = string
}

variable "bucket" {
  type        = string
  description = "The Cloud Storage bucket whose events run the job."
}

variable "create_bucket" {
  type        = bool
  default     = false
  description = "Create the bucket here (with force_destroy) instead of using an existing one."
}

variable "event_type" {
  type    = string
  default = "google.cloud.storage.object.v1.finalized"

  validation {
    condition     = startswith(var.event_type, "google.cloud.storage.object.v1.")
    error_message = "event_type must be a Cloud Storage object event (google.cloud.storage.object.v1.finalized, .deleted, .archived or .metadataUpdated)."
  }
}

variable "input_env" {
  type        = string
  default     = "INPUT_FILE"
  description = "Env var that carries the object's name into the job (the bucket goes in INPUT_BUCKET)."
}

variable "location" {
  type    = string
  default = null
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
  type    = map(string)
  default = {}
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

variable "deletion_protection" {
  type    = bool
  default = true
}
