# The license admin who receives the tenant's license and maintenance notifications.
resource "portcullis_primary_contact" "production" {
  tenant_id = "ten_0123456789abcdef"
  user_id   = portcullis_account_user.ops.id
}
