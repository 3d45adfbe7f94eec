data "portcullis_role" "security" {
  name = "security_engineer"
}

# Grant the preset's permissions plus one more, as an explicit set.
resource "portcullis_user" "sec" {
  email       = "sec@example.com"
  permissions = setunion(data.portcullis_role.security.permissions, ["manage_custom_messages"])
}
