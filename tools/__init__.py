"""Developer tools that are not part of calsync's runtime: the Terraform checks of `make lint`."""
