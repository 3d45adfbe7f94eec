# Import by tenant id.
terraform import portcullis_primary_contact.production ten_0123456789abcdef
