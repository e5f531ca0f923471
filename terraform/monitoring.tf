# An e-mail when a calsync function logs an error (a crash, a refused configuration, a failed
# channel renewal), at most one mail an hour. Off until var.alert_email is set. Items that fail
# for reasons a rep or an admin can fix are issues, not errors: `python main.py issues` lists them.

resource "google_monitoring_notification_channel" "email" {
  count = var.alert_email == null ? 0 : 1

  display_name = "calsync alerts"
  type         = "email"
  labels = {
    email_address = var.alert_email
  }

  depends_on = [time_sleep.apis_enabled]
}

resource "google_monitoring_alert_policy" "function_errors" {
  count = var.alert_email == null ? 0 : 1

  display_name = "calsync: a function logged an error"
  combiner     = "OR"

  conditions {
    display_name = "ERROR log entry from a calsync function"
    condition_matched_log {
      filter = join(" ", [
        "resource.type=\"cloud_run_revision\"",
        "AND severity>=ERROR",
        "AND resource.labels.service_name=(${join(" OR ", [for fn in google_cloudfunctions2_function.fn : "\"${fn.service_config[0].service}\""])})",
      ])
    }
  }

  alert_strategy {
    notification_rate_limit {
      period = "3600s"
    }
    auto_close = "86400s"
  }

  documentation {
    content   = "A calsync function logged an error. Cloud Logging shows the entry; docs/deploy.md, \"Logs and alerts\", lists the queries and what to do."
    mime_type = "text/markdown"
  }

  notification_channels = [google_monitoring_notification_channel.email[0].id]
}
