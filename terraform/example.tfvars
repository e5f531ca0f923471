# Copy to terraform.tfvars and fill in (docs/deploy.md, step 3). No secrets here: the keys go
# into Secret Manager.
project_id              = "acme-calsync"
region                  = "europe-west1"
salesforce_instance_url = "https://acme.my.salesforce.com"
salesforce_login_url    = "https://login.salesforce.com"
salesforce_consumer_key = "3MVG9...consumer-key-of-the-external-client-app"
salesforce_username     = "calsync.integration@acme.com"
cli_admins              = ["user:ada@acme.com"]
admin_invokers          = ["group:calsync-admins@acme.com"]
alert_email             = "calsync-alerts@acme.com"
