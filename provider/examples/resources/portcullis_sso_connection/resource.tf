variable "okta_client_secret" {
  type      = string
  sensitive = true
}

# The account's OpenID Connect provider (company admins). The client secret is sealed by
# Portcullis and never shown again; Terraform keeps the configured value in its state.
resource "portcullis_sso_connection" "okta" {
  name                   = "Okta"
  allow_jit_provisioning = false
  oidc {
    issuer        = "https://acme.okta.com"
    client_id     = "0oa1b2c3d4e5f6g7h8i9"
    client_secret = var.okta_client_secret
  }
}

# Enforce SSO in the provider's tenant with that connection (enterprise plan). The reference
# orders the apply (connection first) and the destroy (settings first, releasing the connection).
resource "portcullis_tenant_settings" "this" {
  sso_enforced            = true
  saml_breakglass_user_id = "usr_0123456789abcdef"
  sso_connection_id       = portcullis_sso_connection.okta.id
}
