# The credentials calsync needs (R-34), and the key it signs with itself (R-32, R-33). Terraform creates the empty secrets only: their values
# never pass through Terraform, its state or this repository. The admin adds a version by hand
# (docs/deploy.md, "Add the keys"); the functions read version "latest".

resource "google_secret_manager_secret" "sf_private_key" {
  secret_id = "${var.name_prefix}-sf-private-key"

  # Automatic replication is Google-managed and encrypted at rest; pin locations with
  # user_managed replication if the org has data-residency rules.
  replication {
    auto {}
  }

  depends_on = [time_sleep.apis_enabled]
}

# Only with dwd_key_in_secret_manager = true: keyless delegation needs no key at all.
resource "google_secret_manager_secret" "dwd_key" {
  count = var.dwd_key_in_secret_manager ? 1 : 0

  secret_id = "${var.name_prefix}-google-dwd-key"

  replication {
    auto {}
  }

  depends_on = [time_sleep.apis_enabled]
}

# The key that signs the sidebar's Name/Related To choices (so that only choices the add-on
# checked become WhoId/WhatId) and the dashboard's admin sessions. 32 random bytes, made by the
# admin (docs/deploy.md); rotating it signs everyone out and drops choices not yet synced.
resource "google_secret_manager_secret" "signing_key" {
  secret_id = "${var.name_prefix}-signing-key"

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

locals {
  signing_key_secret_version = "${google_secret_manager_secret.signing_key.id}/versions/latest"
  # Full version names, so the code can pass them to access_secret_version as they are.
  sf_private_key_secret_version = "${google_secret_manager_secret.sf_private_key.id}/versions/latest"
  dwd_key_secret_version        = var.dwd_key_in_secret_manager ? "${google_secret_manager_secret.dwd_key[0].id}/versions/latest" : ""
}
