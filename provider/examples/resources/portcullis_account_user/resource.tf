# A user of the account, above the tenants. Create it without roles; grant roles once the
# user has accepted the invitation (roles can be granted to active users only).
resource "portcullis_account_user" "ops" {
  email           = "ops@example.com"
  name            = "Ops Person"
  roles           = ["support"]
  license_tenants = ["ten_0123456789abcdef"]
}
