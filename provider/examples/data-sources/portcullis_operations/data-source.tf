data "portcullis_operations" "all" {}

# What each operation needs, by name.
output "requires" {
  value = { for op in data.portcullis_operations.all.operations : op.name => op.requires }
}

# The operations an automation key may perform.
output "automation_operations" {
  value = [for op in data.portcullis_operations.all.operations : op.name if op.automation_keys]
}
