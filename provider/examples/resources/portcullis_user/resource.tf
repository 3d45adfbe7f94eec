# A member granted the release_engineer preset (build_applications) plus update_certificates.
resource "portcullis_user" "alice" {
  email       = "alice@example.com"
  name        = "Alice Adams"
  role        = "release_engineer"
  permissions = ["update_certificates"]
}

# A read-only member: no permissions, no role. The name defaults to the email's local part.
resource "portcullis_user" "auditor" {
  email = "audit@example.com"
}

# The invitation code is set only when this resource invited a new user.
output "alice_invitation_code" {
  value     = portcullis_user.alice.invitation_code
  sensitive = true
}
