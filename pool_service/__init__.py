"""pool_service: chooses the credential for each request and records every request in analytics."""
