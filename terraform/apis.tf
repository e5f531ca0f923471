# The Google APIs calsync uses or its deployment needs. Left enabled on destroy: other things in
# the project may use them too.
locals {
  # R-20: the Drive API only where attachments are stored (var.save_attachments).
  attachment_services = var.save_attachments ? ["drive.googleapis.com"] : []
  services = toset(concat(local.attachment_services, [
    "artifactregistry.googleapis.com", # images of the functions
    "calendar-json.googleapis.com",    # Google Calendar API, called with domain-wide delegation
    "cloudbuild.googleapis.com",       # builds the functions from source
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com", # the sweep
    "cloudtasks.googleapis.com",     # one task per sync session
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com", # signJwt for keyless domain-wide delegation
    "run.googleapis.com",            # functions (2nd gen) run on Cloud Run
    "secretmanager.googleapis.com",
    "storage.googleapis.com", # the source archive
  ]))
}

resource "google_project_service" "enabled" {
  for_each = local.services

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
