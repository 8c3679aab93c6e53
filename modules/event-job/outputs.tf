output "job_name" {
  value = google_cloud_run_v2_job.this.name
}

output "job_id" {
  value = google_cloud_run_v2_job.this.id
}

output "workflow_name" {
  value = google_workflows_workflow.this.name
}

output "trigger_name" {
  value = google_eventarc_trigger.this.name
}

output "service_account_email" {
  value = google_service_account.this.email
}

output "bucket" {
  value = var.bucket
}
