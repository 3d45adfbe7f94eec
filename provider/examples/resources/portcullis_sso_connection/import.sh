# Import by the connection id (sso_...). The client secret cannot be read back: the next
# apply sets (rotates) it to the configured value.
terraform import portcullis_sso_connection.okta sso_0123456789abcdef
