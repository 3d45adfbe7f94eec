terraform {
  required_providers {
    portcullis = {
      source  = "portcullis/portcullis"
      version = "~> 0.1"
    }
  }
}

# A personal API token (pctk_...:pcts_...) of a member of the tenant to manage, holding
# user_and_api_management. Leave `endpoint` and `token` out of the block to read them from
# PORTCULLIS_ENDPOINT and PORTCULLIS_TOKEN instead.
variable "portcullis_token" {
  type      = string
  sensitive = true
}

provider "portcullis" {
  endpoint = "https://auth.example.com"
  token    = var.portcullis_token
}
