# Terraform and provider versions. The ranges are deliberately narrow: a provider major release can
# rename attributes, and the customer applies this without us in the room.
terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
    # Declared so that a resource needing a beta-only field can opt in with `provider = google-beta`
    # without a new `terraform init`; nothing uses it today.
    google-beta = {
      source  = "hashicorp/google-beta"
      version = ">= 6.0, < 8.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.5, < 3.0" # 2.5 added glob patterns in archive_file excludes
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = var.labels
}

provider "google-beta" {
  project = var.project_id
  region  = var.region

  default_labels = var.labels
}
