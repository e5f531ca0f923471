# The periodic sweep (R-28): queues every enabled user's session even when no push notification
# came, renews watch channels, and retries items that wait (R-07, R-11). One job for the `sweep`
# entry of local.functions.

resource "google_cloud_scheduler_job" "sweep" {
  for_each = { for name, fn in local.functions : name => fn if name == "sweep" }

  name             = "${var.name_prefix}-sweep"
  description      = "calsync sweep: a sync session for every enabled user."
  region           = var.region
  schedule         = var.sweep_schedule
  time_zone        = var.sweep_time_zone
  attempt_deadline = "${each.value.timeout_seconds}s"

  # A missed sweep is made good by the next one: no retries that could pile sweeps up.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.fn[each.key].url

    oidc_token {
      service_account_email = google_service_account.invoker.email
      audience              = google_cloudfunctions2_function.fn[each.key].url
    }
  }

  depends_on = [time_sleep.apis_enabled]
}
