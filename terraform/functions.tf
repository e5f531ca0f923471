# The HTTP functions of main.py, deployed as Cloud Functions (2nd gen) from one source archive.

locals {
  # Exactly main.HTTP_FUNCTIONS: tests/test_terraform.py fails when the two differ. Add an entry
  # here in the same change that adds the function to HTTP_FUNCTIONS.
  #
  # access: "public"  - anyone may call at the IAM layer; the code checks a token itself. Only the
  #                     push webhook and the add-on (Google's calls to them carry no Google identity).
  #         "service" - only the invoker account via OIDC (Cloud Tasks, Cloud Scheduler).
  #         "admin"   - only project owners and var.admin_invokers.
  #
  # Planned entries, with the settings they should get:
  #   addon            = { access = "public",  memory = "256M", timeout_seconds = 30,  max_instances = 10 }
  # sync_user's timeout matches Cloud Tasks' default dispatch deadline (10 min); sweep has the
  # scheduler job (scheduler.tf).
  functions = {
    status           = { access = "admin", memory = "256M", timeout_seconds = 30, max_instances = 2 }
    calendar_webhook = { access = "public", memory = "256M", timeout_seconds = 30, max_instances = 20 }
    sync_user        = { access = "service", memory = "512M", timeout_seconds = 600, max_instances = 20 }
    sweep            = { access = "service", memory = "512M", timeout_seconds = 300, max_instances = 1 }
  }

  # https://REGION-PROJECT.cloudfunctions.net/NAME is each function's URL; the code appends
  # "/<function name>" to this base (task targets, watch channel address) and uses the same URL
  # as the OIDC audience.
  functions_url = "https://${var.region}-${var.project_id}.cloudfunctions.net"

  # Exactly the production variables infra/config.py reads (tests/test_terraform.py checks). The
  # emulator-only ones (FIRESTORE_EMULATOR_HOST, CALSYNC_TASKS_EMULATOR_HOST, CALSYNC_SF_CA_CERT,
  # CALSYNC_SF_SESSION_ID, CALSYNC_SHARED_SECRET) are never set in production.
  function_env = {
    GOOGLE_CLOUD_PROJECT       = var.project_id
    CALSYNC_FIRESTORE_DATABASE = google_firestore_database.calsync.name
    CALSYNC_CALENDAR_URL       = "https://www.googleapis.com/calendar/v3/"
    CALSYNC_CALENDAR_TOKEN_URI = "https://oauth2.googleapis.com/token"
    # Empty = keyless domain-wide delegation (signJwt as the runtime account).
    CALSYNC_GOOGLE_SA_KEY_SECRET  = local.dwd_key_secret_version
    CALSYNC_SF_INSTANCE_URL       = var.salesforce_instance_url
    CALSYNC_SF_LOGIN_URL          = var.salesforce_login_url
    CALSYNC_SF_CONSUMER_KEY       = var.salesforce_consumer_key
    CALSYNC_SF_USERNAME           = var.salesforce_username
    CALSYNC_SF_PRIVATE_KEY_SECRET = local.sf_private_key_secret_version
    CALSYNC_TASKS_LOCATION        = google_cloud_tasks_queue.sync.location
    CALSYNC_TASKS_QUEUE           = google_cloud_tasks_queue.sync.name
    CALSYNC_TASKS_SERVICE_ACCOUNT = google_service_account.invoker.email
    CALSYNC_FUNCTIONS_URL         = local.functions_url
  }
}

# The repository root minus what Cloud Functions must not get: tests, emulators, tooling, local
# state, virtualenvs, key files and this directory. requirements.txt stays: Cloud Build installs
# it. Apply from a clean checkout: any other stray file at the root would be shipped.
data "archive_file" "source" {
  type        = "zip"
  source_dir  = "${path.module}/.."
  output_path = "${path.module}/.build/calsync-source.zip"

  excludes = [
    ".git/**",
    ".github/**",
    ".ci/**",
    ".calsync/**",
    ".venv/**",
    ".mypy_cache/**",
    ".pytest_cache/**",
    ".ruff_cache/**",
    ".hypothesis/**",
    "**/__pycache__/**",
    "bench/**",
    "docs/**",
    "emulators/**",
    "salesforce/**",
    "scripts/**",
    "terraform/**",
    "tests/**",
    "requirements-dev.txt",
    "Makefile",
    # Key files that an admin might leave in the checkout must never reach the function image.
    "**/*.pem",
    "**/*.key",
    "**/*.p12",
    "**/*.env",
    "**/.env",
    "**/*.tfvars",
  ]
}

resource "google_storage_bucket" "source" {
  count = var.source_bucket == null ? 1 : 0

  name                        = "${var.project_id}-${var.name_prefix}-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  versioning {
    enabled = true
  }

  # Old archives are only needed to roll back; keep them a month.
  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}

locals {
  source_bucket = var.source_bucket == null ? google_storage_bucket.source[0].name : var.source_bucket
}

# Named after the archive's hash: a code change is a new object, and so a new deployment.
resource "google_storage_bucket_object" "source" {
  name   = "calsync-source-${data.archive_file.source.output_md5}.zip"
  bucket = local.source_bucket
  source = data.archive_file.source.output_path
}

resource "google_cloudfunctions2_function" "fn" {
  for_each = local.functions

  # The deployed name is the code name: the code builds URLs as CALSYNC_FUNCTIONS_URL/<name>.
  name        = each.key
  location    = var.region
  description = "calsync ${each.key} (main.${each.key})"

  build_config {
    runtime         = "python311"
    entry_point     = each.key
    service_account = google_service_account.builder.id

    source {
      storage_source {
        bucket = local.source_bucket
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.runtime.email
    available_memory                 = each.value.memory
    timeout_seconds                  = each.value.timeout_seconds
    max_instance_count               = each.value.max_instances
    min_instance_count               = 0
    max_instance_request_concurrency = 1
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = true
    environment_variables            = local.function_env
  }

  depends_on = [
    google_project_service.enabled,
    google_project_iam_member.builder,
  ]
}
