# A CI token limited to builds, usable only from the build network. Bump `version` to roll it:
# a new secret for the same token, the previous one working for ten more minutes while the
# clients pick up the new one.
resource "portcullis_api_token" "ci" {
  name        = "ci"
  permissions = ["build_applications"]
  expires_at  = "2027-01-31T00:00:00Z"

  allowed_ips = ["198.51.100.0/24", "2001:db8::/32"]
  external_id = "ci-pipeline"
  metadata    = jsonencode({ team = "builds", owner = "platform" })

  rotation_triggers = {
    version = "1"
  }
  rotation_overlap_seconds = 600
}

output "ci_token" {
  value     = portcullis_api_token.ci.token
  sensitive = true
}
