output "function_urls" {
  description = "URL of each deployed function."
  value       = { for name, fn in google_cloudfunctions2_function.fn : name => fn.url }
}

output "function_services" {
  description = "Cloud Run service of each function: what Cloud Logging calls resource.labels.service_name."
  value       = { for name, fn in google_cloudfunctions2_function.fn : name => fn.service_config[0].service }
}

output "webhook_url" {
  description = "Address calsync gives Google Calendar watch channels."
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

output "cli_login" {
  description = "The command that signs the admin command line in as the runtime account (docs/deploy.md, step 7); your account must be in cli_admins."
  value       = "gcloud auth application-default login --impersonate-service-account=${google_service_account.runtime.email}"
}

output "admin_env" {
  description = "Environment for the admin command line (python main.py ...) on an admin's machine."
  value       = join("\n", [for k, v in local.function_env : "export ${k}='${v}'"])
}

output "addon_deployment" {
  description = "The Calendar add-on's deployment descriptor (addon/deployment.json with this deployment's URLs): `terraform output -raw addon_deployment > deployment.json`, then `gcloud workspace-add-ons deployments create calsync --deployment-file=deployment.json` (docs/deploy.md)."
  value = templatefile("${path.module}/../addon/deployment.json", {
    addon_url      = "${local.functions_url}/addon"
    logo_url       = var.addon_logo_url
    salesforce_url = var.salesforce_instance_url
  })
}

output "dashboard_url" {
  description = "The sync-issues dashboard (admins sign in with Google; the admins org setting lists who may)."
  value       = "${local.functions_url}/dashboard"
}
