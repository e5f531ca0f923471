# Terraform and provider versions. Each provider range admits only patch releases of the version
# whose schema `make lint` checks (tools/terraform_schema.py, the cdktf packages pinned in
# tools/package.json); .terraform.lock.hcl pins the exact builds. Upgrading a provider is one
# change: the cdktf package, this range and the lock file together (docs/deploy.md, "Upgrade").
terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.50.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.7.1" # 2.5 added glob patterns in archive_file excludes
    }
    # time_sleep: waits where Google documents eventual consistency (apis.tf, iam.tf).
    time = {
      source  = "hashicorp/time"
      version = "~> 0.13.1"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region

  # Bill API calls (and their quota) to this project, not to the Cloud CLI's own OAuth client
  # project: without it a user's first apply can fail with "API has not been used in project
  # <number> before" for a project that is not theirs.
  user_project_override = true
  billing_project       = var.project_id

  default_labels = var.labels
}
