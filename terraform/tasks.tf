# One Cloud Task per sync session (R-27): a push notification queues the user's session, and the
# task name coalesces a burst of notifications into one (infra/tasks.py).

resource "google_cloud_tasks_queue" "sync" {
  name     = "${var.name_prefix}-sync"
  location = var.region

  rate_limits {
    max_dispatches_per_second = var.tasks_max_dispatches_per_second
    max_concurrent_dispatches = var.tasks_max_concurrent_dispatches
  }

  # A failed session is retried with exponential backoff; after max_attempts the task is dropped
  # and the next sweep runs the session again, so nothing is lost.
  retry_config {
    max_attempts  = var.tasks_max_attempts
    min_backoff   = var.tasks_min_backoff
    max_backoff   = var.tasks_max_backoff
    max_doublings = 5
  }

  # Every task is sent with an OIDC token of the invoker account, whatever the task itself says:
  # a task can reach sync_user only as that account (R-34). The audience stays the task's URL,
  # which is what Cloud Functions expects.
  http_target {
    http_method = "POST"

    oidc_token {
      service_account_email = google_service_account.invoker.email
    }
  }

  stackdriver_logging_config {
    sampling_ratio = 1.0
  }

  depends_on = [time_sleep.service_accounts_created]
}

# R-38: backfill slices (infra/backfill_queue.py) in a queue of their own, with few concurrent
# dispatches: a backfill of every user spreads over function instances without ever taking the
# dispatch slots that push-started sessions need within seconds.
resource "google_cloud_tasks_queue" "backfill" {
  name     = "${var.name_prefix}-backfill"
  location = var.region

  rate_limits {
    max_dispatches_per_second = 1
    max_concurrent_dispatches = var.backfill_max_concurrent_dispatches
  }

  # A slice that failed is retried and resumes from the checkpoint; a chain that runs out of
  # attempts stays resumable (`python main.py backfill --all` queues it again).
  retry_config {
    max_attempts  = var.tasks_max_attempts
    min_backoff   = var.tasks_min_backoff
    max_backoff   = var.tasks_max_backoff
    max_doublings = 5
  }

  http_target {
    http_method = "POST"

    oidc_token {
      service_account_email = google_service_account.invoker.email
    }
  }

  stackdriver_logging_config {
    sampling_ratio = 1.0
  }

  depends_on = [google_project_service.enabled]
}
