# A build-only key for the build farm (team plan and up), usable only from its network until
# the end of January. Bump `version` to roll it (same key id, a new secret).
resource "portcullis_automation_key" "builder" {
  name        = "build-farm"
  expires_at  = "2027-01-31T00:00:00Z"
  allowed_ips = ["203.0.113.0/24", "2001:db8:1::/48"]
  metadata    = jsonencode({ pool = "linux" })
  rate_limit  = { requests = 1000, period_seconds = 60 }

  rotation_triggers = {
    version = "1"
  }
  rotation_overlap_seconds = 300
}

# A key kept but switched off; `enabled` changes in place and keeps the same key.
resource "portcullis_automation_key" "standby" {
  name    = "standby"
  enabled = false
}

output "builder_key" {
  value     = portcullis_automation_key.builder.key
  sensitive = true
}
