"""The frontend's HTTP endpoints, one module per family: the API posts, models, count_tokens, health, admin."""
