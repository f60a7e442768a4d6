"""The real-client matrix's engine: its cases and client drivers, scripted upstream, recording tap, stack, and the
judge of one case. `python -m matrix` runs it and writes docs/clients.md; tests/e2e/test_client_matrix.py runs it
in the suite."""
