"""dario: what the three processes share, and the admin CLI."""

__version__ = "0.1.0"
