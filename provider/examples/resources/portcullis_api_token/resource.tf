# A CI token limited to builds. Bump `version` to rotate it; the new token is created before
# the old one is deleted.
resource "portcullis_api_token" "ci" {
  name        = "ci"
  permissions = ["build_applications"]
  expires_at  = "2027-01-31T00:00:00Z"

  rotation_triggers = {
    version = "1"
  }

  lifecycle {
    create_before_destroy = true
  }
}

output "ci_token" {
  value     = portcullis_api_token.ci.token
  sensitive = true
}
