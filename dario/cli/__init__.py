"""The `dario` command: the admin client of credential_service and pool_service."""
