# The breakglass member must already be an active member holding user_and_api_management;
# a member invited in the same apply is still pending and would be refused.
data "portcullis_user" "ops" {
  email = "ops@example.com"
}

# The settings of the provider token's tenant: enterprise plan, SAML SSO enforced, with ops as
# the member who may still sign in without SSO.
resource "portcullis_tenant_settings" "this" {
  name                    = "Production"
  plan                    = "enterprise"
  sso_enforced            = true
  saml_breakglass_user_id = data.portcullis_user.ops.id
}
