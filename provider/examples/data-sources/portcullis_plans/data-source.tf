data "portcullis_plans" "all" {}

output "plan_names" {
  value = data.portcullis_plans.all.names # smallest first
}

# Seats by plan name, e.g. { free = 1, team = 20, enterprise = 100 } in the default model.
output "seats" {
  value = { for plan in data.portcullis_plans.all.plans : plan.name => plan.seats }
}

# The smallest plan that includes SAML SSO enforcement.
output "sso_plan" {
  value = [for plan in data.portcullis_plans.all.plans : plan.name if contains(plan.features, "saml_sso")][0]
}
