# The breakglass member must already be an active member holding user_and_api_management;
# a member invited in the same apply is still pending and would be refused.
data "portcullis_user" "ops" {
  email = "ops@example.com"
}

# The identity provider members sign in with (see portcullis_sso_connection).
resource "portcullis_sso_connection" "okta" {
  name = "Okta"
  oidc {
    issuer        = "https://acme.okta.com"
    client_id     = "0oa1b2c3d4e5f6g7h8i9"
    client_secret = var.okta_client_secret
  }
}

variable "okta_client_secret" {
  type      = string
  sensitive = true
}

# The settings of the provider token's tenant: enterprise plan, SSO enforced with the Okta
# connection, and ops as the member who may still sign in without SSO.
resource "portcullis_tenant_settings" "this" {
  name                    = "Production"
  plan                    = "enterprise"
  sso_enforced            = true
  saml_breakglass_user_id = data.portcullis_user.ops.id
  sso_connection_id       = portcullis_sso_connection.okta.id
}
