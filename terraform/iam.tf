# Service accounts and who may do what. Least privilege: every grant is on one resource where
# the API allows it, and says why.

# The identity the functions run as. It reads and writes calsync's Firestore database, queues sync
# tasks, reads the two secrets, and acts for Workspace users through domain-wide delegation.
resource "google_service_account" "runtime" {
  account_id   = "${var.name_prefix}-runtime"
  display_name = "calsync functions"
  description  = "Runs the calsync functions; its client id is the one registered for domain-wide delegation."

  depends_on = [google_project_service.enabled]
}

# The identity Cloud Tasks and Cloud Scheduler put in their OIDC tokens: the only caller, besides
# admins, that the private functions (sync_user, sweep) accept (R-34). It holds no other role.
resource "google_service_account" "invoker" {
  account_id   = "${var.name_prefix}-invoker"
  display_name = "calsync task and scheduler caller"
  description  = "OIDC identity of calsync's Cloud Tasks and Cloud Scheduler calls."

  depends_on = [google_project_service.enabled]
}

# Cloud Build runs as this account when it builds the functions, instead of the Compute Engine
# default account (which new projects no longer grant Editor, and which is too broad anyway).
resource "google_service_account" "builder" {
  account_id   = "${var.name_prefix}-builder"
  display_name = "calsync function builds"
  description  = "Builds the calsync functions from the source archive."

  depends_on = [google_project_service.enabled]
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
}

resource "google_secret_manager_secret_iam_member" "runtime_reads_sf_key" {
  secret_id = google_secret_manager_secret.sf_private_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.runtime.member
}

resource "google_secret_manager_secret_iam_member" "runtime_reads_dwd_key" {
  count = var.dwd_key_in_secret_manager ? 1 : 0

  secret_id = google_secret_manager_secret.dwd_key[0].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.runtime.member
}

# Keyless domain-wide delegation: the runtime signs the delegation JWT (sub = the user) with its
# own Google-managed key through IAM Credentials signJwt, which needs Token Creator on itself.
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
}

# --- who may call which function ----------------------------------------------------------------
# Functions (2nd gen) are Cloud Run services: calling one needs run.invoker on its service.

# Google's push notifications and the add-on carry no Google identity: these functions accept
# anyone at the IAM layer and check the channel token (webhook) or the add-on's token themselves.
resource "google_cloud_run_v2_service_iam_member" "public" {
  for_each = { for name, fn in local.functions : name => fn if fn.access == "public" }

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
}
