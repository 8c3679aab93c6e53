output "job_name" {
  value = google_cloud_run_v2_job.this.name
}

output "job_id" {
  value = google_cloud_run_v2_job.this.id
}

output "location" {
  value = google_cloud_run_v2_job.this.location
}

output "scheduler_job_name" {
  value = google_cloud_scheduler_job.this.name
}

output "service_account_email" {
  value = google_service_account.scheduler.email
}
