# calsync's state: users, settings, mappings, sync tokens, leases, issues.

resource "google_firestore_database" "calsync" {
  name        = var.firestore_database
  location_id = coalesce(var.firestore_location, var.region)
  type        = "FIRESTORE_NATIVE"

  # The mappings are what stop a second SF Event for the same item (R-29, R-39): keep 7 days of
  # history so a bad release can be undone, and refuse accidental deletion.
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = var.firestore_deletion_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  deletion_policy                   = var.firestore_deletion_protection ? "ABANDON" : "DELETE"

  depends_on = [time_sleep.apis_enabled]
}

# Optional TTL policies (variable firestore_ttl_fields): expiry is a clean-up, never a deadline;
# documents can outlive their time by a day, so the code must still check the time itself.
resource "google_firestore_field" "ttl" {
  for_each = var.firestore_ttl_fields

  database   = google_firestore_database.calsync.name
  collection = each.key
  field      = each.value

  # No index_config block: an empty one would drop the field's automatic indexes, and the code
  # may query on it.
  ttl_config {}
}

# The echo ledger (infra/sf_ledger.py): what sessions wrote to Salesforce in the last minutes, for
# the poll to tell its own writes from real changes. The poll deletes old documents itself, a few
# per run; this policy makes sure none outlive their use in production.
resource "google_firestore_field" "sf_writes_ttl" {
  database   = google_firestore_database.calsync.name
  collection = "calsync_sf_writes"
  field      = "expires"

  # No index_config block: keep the automatic indexes (the poll queries `at`, not `expires`).
  ttl_config {}
}
