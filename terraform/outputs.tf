output "function_urls" {
  description = "URL of each deployed function."
  value       = { for name, fn in google_cloudfunctions2_function.fn : name => fn.url }
}

output "webhook_url" {
  description = "Address calsync gives Google Calendar watch channels (null until calendar_webhook is deployed)."
  value       = try(google_cloudfunctions2_function.fn["calendar_webhook"].url, null)
}

output "functions_url" {
  description = "Base URL of the functions (CALSYNC_FUNCTIONS_URL)."
  value       = local.functions_url
}

output "task_queue" {
  description = "Full name of the sync task queue."
  value       = google_cloud_tasks_queue.sync.id
}

output "runtime_service_account" {
  description = "Email of the account the functions run as."
  value       = google_service_account.runtime.email
}

output "dwd_client_id" {
  description = "Client ID to register for domain-wide delegation in the Google Admin console (Security > API controls > Domain-wide delegation)."
  value       = google_service_account.runtime.unique_id
}

output "dwd_scopes" {
  description = "OAuth scopes to enter, exactly, for the dwd_client_id in the Google Admin console's domain-wide delegation entry (docs/deploy.md step 4). drive.readonly only with save_attachments (R-20)."
  value       = join(",", concat(local.dwd_calendar_scopes, var.save_attachments ? local.dwd_drive_scopes : []))
}

output "invoker_service_account" {
  description = "Email of the OIDC identity of Cloud Tasks and Cloud Scheduler calls."
  value       = google_service_account.invoker.email
}

output "secrets_to_fill" {
  description = "Secrets the admin must add a version to before the first sync (docs/deploy.md)."
  value = concat(
    [google_secret_manager_secret.sf_private_key.secret_id],
    [for s in google_secret_manager_secret.dwd_key : s.secret_id],
  )
}

output "admin_env" {
  description = "Environment for the admin command line (python main.py ...) on an admin's machine."
  value       = join("\n", [for k, v in local.function_env : "export ${k}='${v}'"])
}
