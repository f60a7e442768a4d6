"""Benchmarks: dario against the upstream called directly and against LiteLLM's proxy, as ratios within one run."""
