# A build-only key for the build farm (team plan and up).
resource "portcullis_automation_key" "builder" {
  name = "build-farm"
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
