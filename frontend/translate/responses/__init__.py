"""The OpenAI Responses API on backends without it: its requests told in Chat Completions (or Anthropic, through
Chat), and Chat or Anthropic answers and streams told as Responses (pure, no I/O)."""
