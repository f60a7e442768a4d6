"""credential_service: the vault. Secrets at rest are read and written only here."""
