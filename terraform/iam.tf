# Service accounts and who may do what. Least privilege: every grant is on one resource where
# the API allows it, and says why.

# The identity the functions run as. It reads and writes calsync's Firestore database, queues sync
# tasks, reads the secrets, and acts for Workspace users through domain-wide delegation.
resource "google_service_account" "runtime" {
  account_id   = "${var.name_prefix}-runtime"
  display_name = "calsync functions"
  description  = "Runs the calsync functions; its client id is the one registered for domain-wide delegation."

  depends_on = [time_sleep.apis_enabled]
}

# The identity Cloud Tasks and Cloud Scheduler put in their OIDC tokens: the only caller, besides
# admins, that the private functions (sync_user, sweep) accept (R-34). It holds no other role.
resource "google_service_account" "invoker" {
  account_id   = "${var.name_prefix}-invoker"
  display_name = "calsync task and scheduler caller"
  description  = "OIDC identity of calsync's Cloud Tasks and Cloud Scheduler calls."

  depends_on = [time_sleep.apis_enabled]
}

# Cloud Build runs as this account when it builds the functions, instead of the Compute Engine
# default account (which new projects no longer grant Editor, and which is too broad anyway).
resource "google_service_account" "builder" {
  account_id   = "${var.name_prefix}-builder"
  display_name = "calsync function builds"
  description  = "Builds the calsync functions from the source archive."

  depends_on = [time_sleep.apis_enabled]
}

# A new service account is eventually consistent: granting a role to it, or naming it in a queue
# or a scheduler job, right after its creation can fail with "does not exist". Google asks to
# wait up to a minute; everything that names one of the three accounts waits here first.
resource "time_sleep" "service_accounts_created" {
  create_duration = "60s"

  triggers = {
    accounts = join(",", [
      google_service_account.runtime.email,
      google_service_account.invoker.email,
      google_service_account.builder.email,
    ])
  }
}

# --- runtime ------------------------------------------------------------------------------------

# Firestore has no per-database IAM resource: a project grant limited by a condition to calsync's
# database is the narrowest available.
resource "google_project_iam_member" "runtime_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.runtime.member

  condition {
    title       = "calsync database only"
    description = "Only the ${var.firestore_database} Firestore database."
    expression  = "resource.name == \"projects/${var.project_id}/databases/${var.firestore_database}\""
  }

  depends_on = [time_sleep.service_accounts_created]
}

resource "google_cloud_tasks_queue_iam_member" "runtime_enqueues" {
  name     = google_cloud_tasks_queue.sync.id
  location = google_cloud_tasks_queue.sync.location
  role     = "roles/cloudtasks.enqueuer"
  member   = google_service_account.runtime.member
}

# R-38: the backfill's slices queue their successors, and `backfill --all` queues the first.
resource "google_cloud_tasks_queue_iam_member" "runtime_enqueues_backfill" {
  name     = google_cloud_tasks_queue.backfill.id
  location = google_cloud_tasks_queue.backfill.location
  role     = "roles/cloudtasks.enqueuer"
  member   = google_service_account.runtime.member
}

# The code puts the invoker's OIDC token on each task it creates: Cloud Tasks requires
# iam.serviceAccounts.actAs on that account from the caller.
resource "google_service_account_iam_member" "runtime_acts_as_invoker" {
  service_account_id = google_service_account.invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.runtime.member

  depends_on = [time_sleep.service_accounts_created]
}

resource "google_secret_manager_secret_iam_member" "runtime_reads_sf_key" {
  secret_id = google_secret_manager_secret.sf_private_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.runtime.member

  depends_on = [time_sleep.service_accounts_created]
}

resource "google_secret_manager_secret_iam_member" "runtime_reads_signing_key" {
  secret_id = google_secret_manager_secret.signing_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.runtime.member
}

resource "google_secret_manager_secret_iam_member" "runtime_reads_dwd_key" {
  count = var.dwd_key_in_secret_manager ? 1 : 0

  secret_id = google_secret_manager_secret.dwd_key[0].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.runtime.member

  depends_on = [time_sleep.service_accounts_created]
}

# Keyless domain-wide delegation: the runtime signs the delegation JWT (sub = the user) with its
# own Google-managed key through IAM Credentials signBlob, which needs Token Creator on itself.
# The scopes calsync asks for as each user (infra/credentials.py: CALENDAR_SCOPES, DRIVE_SCOPES;
# tests/test_terraform.py holds them equal). Shown by the dwd_scopes output.
locals {
  dwd_calendar_scopes = ["https://www.googleapis.com/auth/calendar.events"]
  dwd_drive_scopes    = ["https://www.googleapis.com/auth/drive.readonly"]
}

resource "google_service_account_iam_member" "runtime_signs_own_jwt" {
  count = var.dwd_key_in_secret_manager ? 0 : 1

  service_account_id = google_service_account.runtime.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = google_service_account.runtime.member

  depends_on = [time_sleep.service_accounts_created]
}

# --- the admins who run the command line --------------------------------------------------------

# `python main.py ...` on an admin's machine runs as the runtime account, impersonated from the
# admin's own Google sign-in (docs/deploy.md, "Your own account"): one grant gives exactly what
# the functions have, and nothing is granted to people directly. Token Creator on this account
# is as strong as the functions are: it can read every enabled user's calendar.
resource "google_service_account_iam_member" "cli_admins_impersonate_runtime" {
  for_each = toset(var.cli_admins)

  service_account_id = google_service_account.runtime.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = each.value

  depends_on = [time_sleep.service_accounts_created]
}

# --- who may call which function ----------------------------------------------------------------
# Functions (2nd gen) are Cloud Run services: calling one needs run.invoker on its service.

# Google's push notifications, the add-on and an admin's browser carry no identity that Cloud
# Run's IAM check accepts: these functions accept anyone at the IAM layer and check the channel
# token (webhook), the add-on's two ID tokens (addon) or an admin's Google sign-in (dashboard)
# themselves, in code. With public_access = "all_users" that is an allUsers invoker grant, which
# organisations with Domain Restricted Sharing refuse; the default, "no_invoker_check", disables
# Cloud Run's invoker check on those services instead (functions.tf), which is Google's
# recommended way.
resource "google_cloud_run_v2_service_iam_member" "public" {
  for_each = { for name, fn in local.functions : name => fn if fn.access == "public" && var.public_access == "all_users" }

  name     = google_cloudfunctions2_function.fn[each.key].service_config[0].service
  location = var.region
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# sync_user (Cloud Tasks) and sweep (Cloud Scheduler): only the invoker account, through OIDC.
resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = { for name, fn in local.functions : name => fn if fn.access == "service" }

  name     = google_cloudfunctions2_function.fn[each.key].service_config[0].service
  location = var.region
  role     = "roles/run.invoker"
  member   = google_service_account.invoker.member
}

resource "google_cloud_run_v2_service_iam_member" "admin" {
  for_each = {
    for pair in setproduct([for name, fn in local.functions : name if fn.access == "admin"], var.admin_invokers) :
    "${pair[0]} ${pair[1]}" => { function = pair[0], member = pair[1] }
  }

  name     = google_cloudfunctions2_function.fn[each.value.function].service_config[0].service
  location = var.region
  role     = "roles/run.invoker"
  member   = each.value.member
}

# --- builder ------------------------------------------------------------------------------------

# What a custom Cloud Build account needs to build a function: write build logs, push the image,
# read the source archive.
resource "google_project_iam_member" "builder" {
  for_each = toset([
    "roles/logging.logWriter",
    "roles/artifactregistry.writer",
    "roles/storage.objectViewer",
  ])

  project = var.project_id
  role    = each.value
  member  = google_service_account.builder.member

  depends_on = [time_sleep.service_accounts_created]
}

# Role grants are eventually consistent too: "typically 2 minutes, potentially 7 minutes or
# longer" (Google's IAM documentation). A function build that starts before the builder's grants
# are seen fails and leaves a broken function behind, so the functions wait here. Sessions that
# start before the runtime's grants are seen fail and are retried by Cloud Tasks.
resource "time_sleep" "grants_propagated" {
  create_duration = "120s"

  triggers = {
    builder = join(",", [for grant in google_project_iam_member.builder : grant.role])
    runtime = google_project_iam_member.runtime_firestore.member
  }
}
