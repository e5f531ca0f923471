# Inputs. Nothing here is a secret: the two private keys go into Secret Manager by hand (docs/deploy.md).

variable "project_id" {
  description = "The Google Cloud project calsync is deployed into. A project of its own is best: whoever can act as the runtime service account can read every enabled user's calendar."
  type        = string

  validation {
    # Domain-scoped ids (example.com:project) are refused: the function URLs would not follow
    # https://REGION-PROJECT.cloudfunctions.net/NAME, which CALSYNC_FUNCTIONS_URL relies on.
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a plain project id: 6-30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "Region of the functions, the task queue and the scheduler job, e.g. europe-west1."
  type        = string
  default     = "us-central1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Cloud region such as us-central1 or europe-west1."
  }
}

variable "firestore_location" {
  description = "Location of the Firestore database: a region (e.g. europe-west1) or a multi-region (nam5, eur3). Null means the same as region. Cannot be changed after creation."
  type        = string
  default     = null
}

variable "firestore_database" {
  description = "Id of the Firestore database calsync creates and uses. A named database keeps calsync's data apart from any (default) database the project already has."
  type        = string
  default     = "calsync"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.firestore_database))
    error_message = "firestore_database must be 4-63 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "firestore_ttl_fields" {
  description = "Firestore TTL policies: collection group => Timestamp field after which Google deletes the document (usually within a day of expiry, never instantly). Empty until a collection needs one."
  type        = map(string)
  default     = {}
}

variable "firestore_deletion_protection" {
  description = "Refuse to delete the Firestore database (mappings are what keep calsync from duplicating Salesforce Events). Turn off only to tear a test project down."
  type        = bool
  default     = true
}

variable "name_prefix" {
  description = "Prefix of the names of the service accounts, task queue, scheduler job, secrets and source bucket. The functions themselves keep their code names (status, sync_user, ...): the code builds their URLs from those names."
  type        = string
  default     = "calsync"

  validation {
    # Service account ids are at most 30 characters; the longest suffix used is "-invoker" (8).
    condition     = can(regex("^[a-z][a-z0-9-]{2,19}$", var.name_prefix))
    error_message = "name_prefix must be 3-20 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "labels" {
  description = "Labels put on every resource that takes labels."
  type        = map(string)
  default     = { app = "calsync" }
}

variable "source_bucket" {
  description = "An existing Cloud Storage bucket for the function source archive. Null (the default) creates a private bucket named PROJECT-PREFIX-source."
  type        = string
  default     = null
}

variable "salesforce_instance_url" {
  description = "The org's My Domain URL, e.g. https://acme.my.salesforce.com."
  type        = string

  validation {
    condition     = can(regex("^https://[A-Za-z0-9.-]+$", var.salesforce_instance_url))
    error_message = "salesforce_instance_url must be an https:// URL with no path, e.g. https://acme.my.salesforce.com."
  }
}

variable "salesforce_login_url" {
  description = "Where the JWT bearer flow gets its token: https://login.salesforce.com for production orgs, https://test.salesforce.com for sandboxes."
  type        = string
  default     = "https://login.salesforce.com"

  validation {
    condition     = can(regex("^https://[A-Za-z0-9.-]+$", var.salesforce_login_url))
    error_message = "salesforce_login_url must be an https:// URL with no path."
  }
}

variable "salesforce_consumer_key" {
  description = "Consumer key (client id) of the External Client App / connected app that uses the JWT bearer flow. An identifier, not a secret; the app's private key goes into Secret Manager."
  type        = string

  validation {
    condition     = length(trimspace(var.salesforce_consumer_key)) > 0
    error_message = "salesforce_consumer_key must not be empty."
  }
}

variable "salesforce_username" {
  description = "Username of the Salesforce integration user calsync logs in as (pre-authorized on the app)."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+$", var.salesforce_username))
    error_message = "salesforce_username must look like user@example.com (Salesforce usernames are email-shaped)."
  }
}

variable "dwd_key_in_secret_manager" {
  description = "false (recommended): keyless domain-wide delegation, the runtime service account signs its own delegation JWTs through the IAM Credentials API, and no key exists anywhere. true: a JSON key of the runtime service account is kept in Secret Manager, for orgs whose policy forbids the signJwt grant."
  type        = bool
  default     = false
}

variable "sweep_schedule" {
  description = "Cron schedule of the sweep (R-28), which runs every enabled user's session even when no push arrived. Every 10 minutes by default: pushes normally start sessions within seconds, so the sweep only catches dropped notifications, items sliding into the window and waiting items. More often costs API calls, less often delays those cases."
  type        = string
  default     = "*/10 * * * *"

  validation {
    condition     = length(split(" ", trimspace(var.sweep_schedule))) == 5
    error_message = "sweep_schedule must be a five-field cron expression, e.g. \"*/10 * * * *\"."
  }
}

variable "sweep_time_zone" {
  description = "Time zone the sweep schedule is read in (IANA name)."
  type        = string
  default     = "Etc/UTC"
}

variable "tasks_max_dispatches_per_second" {
  description = "Cap on sync sessions started per second across the org; protects the Calendar and Salesforce API quotas."
  type        = number
  default     = 5

  validation {
    condition     = var.tasks_max_dispatches_per_second > 0 && var.tasks_max_dispatches_per_second <= 500
    error_message = "tasks_max_dispatches_per_second must be in (0, 500]."
  }
}

variable "tasks_max_concurrent_dispatches" {
  description = "Cap on sync sessions running at once."
  type        = number
  default     = 20

  validation {
    condition     = var.tasks_max_concurrent_dispatches >= 1 && var.tasks_max_concurrent_dispatches <= 5000
    error_message = "tasks_max_concurrent_dispatches must be between 1 and 5000."
  }
}

variable "backfill_max_concurrent_dispatches" {
  description = "Cap on backfill slices running at once (R-38); each runs up to four minutes, in a queue apart from the sync sessions'."
  type        = number
  default     = 2

  validation {
    condition     = var.backfill_max_concurrent_dispatches >= 1 && var.backfill_max_concurrent_dispatches <= 100
    error_message = "backfill_max_concurrent_dispatches must be between 1 and 100."
  }
}

variable "save_attachments" {
  description = "Whether the org setting save_attachments will be on (R-20): enables the Drive API and adds drive.readonly to the scopes output for domain-wide delegation. The setting itself lives in Firestore (python main.py settings set save_attachments true)."
  type        = bool
  default     = false
}

variable "tasks_max_attempts" {
  description = "Attempts per sync task before Cloud Tasks drops it (the sweep runs the session later anyway)."
  type        = number
  default     = 10

  validation {
    condition     = var.tasks_max_attempts >= 1 && var.tasks_max_attempts <= 100
    error_message = "tasks_max_attempts must be between 1 and 100."
  }
}

variable "tasks_min_backoff" {
  description = "Shortest wait before a failed sync task is retried (a duration such as \"5s\")."
  type        = string
  default     = "5s"

  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?s$", var.tasks_min_backoff))
    error_message = "tasks_min_backoff must be a duration in seconds, e.g. \"5s\"."
  }
}

variable "tasks_max_backoff" {
  description = "Longest wait between retries of a sync task (a duration such as \"300s\")."
  type        = string
  default     = "300s"

  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?s$", var.tasks_max_backoff))
    error_message = "tasks_max_backoff must be a duration in seconds, e.g. \"300s\"."
  }
}

variable "admin_invokers" {
  description = "IAM members (e.g. group:calsync-admins@example.com) allowed to call the admin-only functions such as status over HTTP. Project owners can call them anyway."
  type        = list(string)
  default     = []
}

variable "cli_admins" {
  description = "IAM members (user:... or group:...) who run the admin command line (python main.py ...) against this deployment. They get Service Account Token Creator on the runtime account and run the CLI as it (docs/deploy.md, \"Your own account\"), which lets them do what the functions do, including reading every enabled user's calendar: keep the list short."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.cli_admins : can(regex("^(user|group|serviceAccount):[^@\\s]+@[^@\\s]+$", m))])
    error_message = "cli_admins entries must be IAM members such as user:ada@example.com or group:calsync-admins@example.com."
  }
}

variable "public_access" {
  description = "How the public functions (the push webhook, later the add-on) are opened to Google's calls, which carry no Google identity. \"no_invoker_check\" (recommended): Cloud Run's invoker IAM check is disabled on those services only, which works under Domain Restricted Sharing; needs the Cloud CLI (gcloud) signed in where you apply. \"all_users\": an allUsers run.invoker grant, refused by organisations with Domain Restricted Sharing."
  type        = string
  default     = "no_invoker_check"

  validation {
    condition     = contains(["no_invoker_check", "all_users"], var.public_access)
    error_message = "public_access must be \"no_invoker_check\" or \"all_users\"."
  }
}

variable "alert_email" {
  description = "Where to send an e-mail when a calsync function logs an error (at most one an hour). Null (the default) creates no alert."
  type        = string
  default     = null

  validation {
    condition     = var.alert_email == null || can(regex("^[^@\\s]+@[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be an e-mail address, or null."
  }
}

variable "addon_service_account" {
  description = "The Workspace add-on's service agent, service-PROJECT_NUMBER@gcp-sa-gsuiteaddons.iam.gserviceaccount.com: serviceAccountEmail of `gcloud workspace-add-ons get-authorization`. The add-on function accepts only system ID tokens of this account. Empty until known: the add-on then refuses every request."
  type        = string
  default     = ""

  validation {
    condition     = var.addon_service_account == "" || can(regex("^service-[0-9]+@gcp-sa-gsuiteaddons\\.iam\\.gserviceaccount\\.com$", var.addon_service_account))
    error_message = "addon_service_account must look like service-123456789@gcp-sa-gsuiteaddons.iam.gserviceaccount.com."
  }
}

variable "addon_oauth_client_id" {
  description = "The add-on's OAuth client id: oauthClientId of `gcloud workspace-add-ons get-authorization`, the audience of the user ID tokens the add-on receives. Empty until known."
  type        = string
  default     = ""
}

variable "dashboard_oauth_client_id" {
  description = "Client id of the OAuth client (type Web application, authorised JavaScript origin https://REGION-PROJECT.cloudfunctions.net) that admins sign in to the dashboard with. Empty until created: nobody can sign in then."
  type        = string
  default     = ""
}

variable "addon_logo_url" {
  description = "Logo of the Calendar add-on (an https PNG), shown in Calendar's side panel."
  type        = string
  default     = "https://www.gstatic.com/images/icons/material/system/2x/event_available_black_48dp.png"
}
