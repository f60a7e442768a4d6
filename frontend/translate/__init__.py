"""OpenAI ⇄ Anthropic translation: requests, responses, errors and stream state machines (pure, no I/O)."""


class TranslationError(ValueError):
    """A request field the target API cannot honour without changing the answer: the client gets a 400 naming it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
