# Import by the key's public id (pcak_...). Replace the placeholder with a real key id;
# the key itself is not recoverable and stays null.
terraform import portcullis_automation_key.builder pcak_REPLACE_WITH_KEY_ID
