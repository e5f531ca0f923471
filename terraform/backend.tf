# Terraform state lives in a Cloud Storage bucket of your own (docs/deploy.md, step 1 creates it
# with versioning): a state file on one laptop is lost with the laptop, and two admins applying
# from two copies would fight. The bucket is named at init time, so nothing here is specific to
# one organisation:
#
#   terraform init -backend-config=backend.hcl      # backend.hcl.example shows what goes in it
#
# The gcs backend locks the state while an apply runs.
terraform {
  backend "gcs" {}
}
