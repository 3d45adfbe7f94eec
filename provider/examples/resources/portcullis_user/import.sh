# Import a member by email (case-insensitive)...
terraform import portcullis_user.alice alice@example.com

# ...or by user id.
terraform import portcullis_user.alice usr_0123456789abcdef
