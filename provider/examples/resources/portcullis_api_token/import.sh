# Import by the token's key id: the part of the token before the colon (pctk_...).
# Replace the placeholder with a real key id; the secret is not recoverable and stays null.
terraform import portcullis_api_token.ci pctk_REPLACE_WITH_KEY_ID
