data "portcullis_user" "ops" {
  email = "ops@example.com"
}

output "ops" {
  value = {
    id          = data.portcullis_user.ops.id
    status      = data.portcullis_user.ops.status
    permissions = data.portcullis_user.ops.permissions
  }
}
