"""The real-client matrix as a tool (`python -m matrix`): installs the clients and writes docs/clients.md. Its engine
is dario.testing.matrix; the clients' scripts and installs (.venvs/, node_modules/) live here."""
