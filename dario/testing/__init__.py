"""Helpers that dario's tests and its tools (`python -m bench`, `python -m matrix`) share, as `aiohttp.test_utils`:
scripted providers and OAuth server, wire-format builders, process and stack runners. They need a checkout (they
start supervisord on `deploy/dario.conf` and `python -m` the services) and only dario's runtime dependencies."""
