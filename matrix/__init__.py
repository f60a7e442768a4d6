"""The real-client matrix: scripted upstream, recording tap, stack and client drivers (see docs/clients.md)."""
