"""dario's own services as the frontend sees them: credential_service (catalog, leases) and pool_service (Acquire,
availability, and the outcome reporter with its journal)."""
