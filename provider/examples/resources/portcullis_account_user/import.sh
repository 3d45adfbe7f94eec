# Import by email or by user id.
terraform import portcullis_account_user.ops ops@example.com
terraform import portcullis_account_user.ops usr_0123456789abcdef
