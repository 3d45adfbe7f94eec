data "portcullis_users" "pending" {
  status = "pending"
}

output "pending_invitees" {
  value = [for user in data.portcullis_users.pending.users : user.email]
}

data "portcullis_users" "all" {}

output "managers" {
  value = [
    for user in data.portcullis_users.all.users : user.email
    if contains(user.permissions, "user_and_api_management")
  ]
}
