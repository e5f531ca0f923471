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
    # Terraform itself reads the project and enables the others through these two; docs/deploy.md
    # enables them by hand before the first plan, and they stay declared here.
    "cloudresourcemanager.googleapis.com",
    "serviceusage.googleapis.com",
    "cloudscheduler.googleapis.com", # the sweep
    "cloudtasks.googleapis.com",     # one task per sync session
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com", # signBlob for keyless domain-wide delegation
    "logging.googleapis.com",        # the functions' logs
    "monitoring.googleapis.com",     # the error alert (monitoring.tf)
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

# Enabling an API returns before every Google front end knows it is on ("it can take a few
# minutes" in Google's words): resources created at once can fail with SERVICE_DISABLED. Every
# resource that calls one of these APIs depends on this wait rather than on the enablement.
resource "time_sleep" "apis_enabled" {
  create_duration = "60s"

  # A newly listed API waits again; an unchanged list does not.
  triggers = {
    services = join(",", sort(local.services))
  }

  depends_on = [google_project_service.enabled]
}
