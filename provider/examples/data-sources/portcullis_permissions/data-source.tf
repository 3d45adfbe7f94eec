data "portcullis_permissions" "all" {}

output "permission_names" {
  value = data.portcullis_permissions.all.names
}

output "what_builds_allow" {
  value = data.portcullis_permissions.all.descriptions["build_applications"]
}
