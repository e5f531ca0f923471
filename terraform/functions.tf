# The HTTP functions of main.py, deployed as Cloud Functions (2nd gen) from one source archive.

locals {
  # Exactly main.HTTP_FUNCTIONS: tests/test_terraform.py fails when the two differ. This map is the
  # one place a function is added: its entry here deploys it, gives it its callers (iam.tf) and,
  # for "sweep", its scheduler job. Add the entry in the same change that adds the function to
  # HTTP_FUNCTIONS.
  #
  # access: "public"  - anyone may call at the IAM layer; the code checks a token itself. Only the
  #                     push webhook (a channel token), the add-on (Google's system and user ID
  #                     tokens, whose audience Cloud Run's IAM check does not accept) and the
  #                     dashboard (an admin's Google sign-in, which a browser cannot put in front
  #                     of IAM). How they are opened is var.public_access (iam.tf, and below).
  #         "service" - only the invoker account via OIDC (Cloud Tasks, Cloud Scheduler).
  #         "admin"   - only var.admin_invokers (and project owners).
  #
  # sync_user's timeout matches Cloud Tasks' default dispatch deadline (10 min). Each instance
  # runs one session at a time, so sync_user may scale to exactly as many instances as the queue
  # runs sessions at once.
  functions = {
    status           = { access = "admin", memory = "256M", timeout_seconds = 30, max_instances = 2 }
    calendar_webhook = { access = "public", memory = "256M", timeout_seconds = 30, max_instances = 20 }
    sync_user        = { access = "service", memory = "512M", timeout_seconds = 600, max_instances = var.tasks_max_concurrent_dispatches }
    sweep            = { access = "service", memory = "512M", timeout_seconds = 300, max_instances = 1 }
    addon            = { access = "public", memory = "256M", timeout_seconds = 30, max_instances = 10 }
    dashboard        = { access = "public", memory = "256M", timeout_seconds = 60, max_instances = 2 }
    # R-38: one bounded slice (infra/backfill.py SLICE_SECONDS = 240 s) of a user's backfill.
    backfill_slice = { access = "service", memory = "512M", timeout_seconds = 540, max_instances = 5 }
  }

  public_functions = { for name, fn in local.functions : name => fn if fn.access == "public" }

  # https://REGION-PROJECT.cloudfunctions.net/NAME is each function's URL; the code appends
  # "/<function name>" to this base (task targets, watch channel address) and uses the same URL
  # as the OIDC audience.
  functions_url = "https://${var.region}-${var.project_id}.cloudfunctions.net"

  # Exactly the production variables infra/config.py reads (tests/test_terraform.py checks). The
  # emulator-only ones (FIRESTORE_EMULATOR_HOST, CALSYNC_TASKS_EMULATOR_HOST, CALSYNC_SF_CA_CERT,
  # CALSYNC_SF_SESSION_ID, CALSYNC_SHARED_SECRET, ...) are refused outside a local stack.
  function_env = {
    GOOGLE_CLOUD_PROJECT       = var.project_id
    CALSYNC_FIRESTORE_DATABASE = google_firestore_database.calsync.name
    CALSYNC_CALENDAR_URL       = "https://www.googleapis.com/calendar/v3/"
    CALSYNC_CALENDAR_TOKEN_URI = "https://oauth2.googleapis.com/token"
    # The account that acts for users (domain-wide delegation). Keyless: it signs the delegation
    # JWT itself through IAM Credentials; the admin CLI signs as it too (impersonated).
    CALSYNC_RUNTIME_SERVICE_ACCOUNT = google_service_account.runtime.email
    # Empty = keyless domain-wide delegation.
    CALSYNC_GOOGLE_SA_KEY_SECRET  = local.dwd_key_secret_version
    CALSYNC_SF_INSTANCE_URL       = var.salesforce_instance_url
    CALSYNC_SF_LOGIN_URL          = var.salesforce_login_url
    CALSYNC_SF_CONSUMER_KEY       = var.salesforce_consumer_key
    CALSYNC_SF_USERNAME           = var.salesforce_username
    CALSYNC_SF_PRIVATE_KEY_SECRET = local.sf_private_key_secret_version
    CALSYNC_TASKS_LOCATION        = google_cloud_tasks_queue.sync.location
    CALSYNC_TASKS_QUEUE           = google_cloud_tasks_queue.sync.name
    CALSYNC_BACKFILL_QUEUE        = google_cloud_tasks_queue.backfill.name
    CALSYNC_TASKS_SERVICE_ACCOUNT = google_service_account.invoker.email
    CALSYNC_FUNCTIONS_URL         = local.functions_url
    # The sidebar (R-33) and the dashboard (R-32): the key that signs the sidebar's choices and
    # the dashboard's sessions, the add-on's identities (`gcloud workspace-add-ons
    # get-authorization`) and the dashboard's sign-in client (docs/deploy.md).
    CALSYNC_SIGNING_KEY_SECRET    = local.signing_key_secret_version
    CALSYNC_ADDON_SERVICE_ACCOUNT = var.addon_service_account
    CALSYNC_ADDON_CLIENT_ID       = var.addon_oauth_client_id
    CALSYNC_DASHBOARD_CLIENT_ID   = var.dashboard_oauth_client_id
  }
}

# The repository root minus everything Cloud Functions must not get. What ships is main.py,
# requirements.txt (Cloud Build installs it) and the .py files of core/, infra/ and functions/;
# tests/test_terraform.py holds this list against a developer's tree (virtualenvs, tool folders,
# key files, caches) and against the checkout. Apply from a clean checkout all the same.
data "archive_file" "source" {
  type        = "zip"
  source_dir  = "${path.module}/.."
  output_path = "${path.module}/.build/calsync-source.zip"

  excludes = [
    # version control, CI, local state and tools
    ".git", # a worktree's .git is a file
    ".git/**",
    ".github/**",
    ".ci/**",
    ".calsync/**",
    ".tools/**",
    ".venv*/**",
    "venv/**",
    "env/**",
    "node_modules/**",
    ".terraform/**",
    ".idea/**",
    ".vscode/**",
    # caches
    ".mypy_cache/**",
    ".pytest_cache/**",
    ".ruff_cache/**",
    ".hypothesis/**",
    "**/__pycache__/**",
    "**/*.pyc",
    "**/.DS_Store",
    "**/*.log",
    # what is not the functions' code
    "addon/**", # the add-on's descriptor: Terraform renders it, gcloud deploys it
    "bench/**",
    "docs/**",
    "emulators/**",
    "salesforce/**",
    "scripts/**",
    "terraform/**",
    "tests/**",
    "tools/**",
    "requirements-*.txt",
    "Makefile",
    "pyproject.toml",
    "*.md",
    "LICENSE",
    ".gitignore",
    # Key files and credentials an admin might leave in the checkout must never reach the
    # function image or the source bucket. No JSON file is part of the code, so none ships:
    # service-account keys and application-default credentials are JSON.
    "**/*.json",
    "**/*.pem",
    "**/*.key",
    "**/*.crt",
    "**/*.csr",
    "**/*.p12",
    "**/*.pfx",
    "**/*.jks",
    "**/*.env",
    "**/.env",
    "**/.env.*",
    "**/*.tfvars",
    "**/*.tfstate",
    "**/*.tfstate.*",
    "**/*.hcl",
  ]
}

resource "google_storage_bucket" "source" {
  count = var.source_bucket == null ? 1 : 0

  name                        = "${var.project_id}-${var.name_prefix}-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  # The archive keeps one name: a new release replaces it, and the replaced archive stays as a
  # noncurrent version, which the rule below removes after 30 days. The live archive, which the
  # functions' builds read, is never deleted.
  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      with_state                 = "ARCHIVED"
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [time_sleep.apis_enabled]
}

locals {
  source_bucket = var.source_bucket == null ? google_storage_bucket.source[0].name : var.source_bucket
}

# A code change changes the archive's MD5, which replaces the object: a new generation, and so a
# new deployment of every function (they name the generation).
resource "google_storage_bucket_object" "source" {
  name         = "calsync-source.zip"
  bucket       = local.source_bucket
  source       = data.archive_file.source.output_path
  content_type = "application/zip"
  metadata = {
    archive-md5 = data.archive_file.source.output_md5
  }
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
        bucket     = local.source_bucket
        object     = google_storage_bucket_object.source.name
        generation = google_storage_bucket_object.source.generation
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

  depends_on = [time_sleep.grants_propagated]
}

# public_access = "no_invoker_check" (the default): Cloud Run's invoker IAM check is switched off
# on the public functions' services only, Google's recommended way to make a service public, and
# the one that Domain Restricted Sharing allows. The Cloud Functions API has no field for it, so
# the Cloud CLI sets it on the function's Cloud Run service after every deployment of that
# function (a redeployment must not silently close the webhook). Needs `gcloud` signed in on the
# machine that applies (docs/deploy.md, step 1) and run.services.update (project owners have it).
resource "terraform_data" "public_without_invoker_check" {
  for_each = var.public_access == "no_invoker_check" ? local.public_functions : {}

  triggers_replace = [
    google_cloudfunctions2_function.fn[each.key].service_config[0].service,
    google_cloudfunctions2_function.fn[each.key].update_time,
  ]

  provisioner "local-exec" {
    command = "gcloud run services update ${google_cloudfunctions2_function.fn[each.key].service_config[0].service} --no-invoker-iam-check --region=${var.region} --project=${var.project_id} --quiet"
  }
}
