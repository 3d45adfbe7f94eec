# Import by the tenant id (ten_...), which must be the tenant of the provider's token.
terraform import portcullis_tenant_settings.this ten_0123456789abcdef
