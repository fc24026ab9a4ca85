"""The package's one error type, rendered in one place (`cli.main`)."""


class PipeTorchError(Exception):
    """A problem with a message and a hint. `input` errors (bad request, model, dataset or
    environment) exit 2 before anything is written; the others (a failing run) exit 1."""

    def __init__(self, message: str, hint: str = "", *, input: bool = True):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.input = input

    @property
    def exit_code(self) -> int:
        return 2 if self.input else 1

    def render(self) -> str:
        lines = [f"error: {self.message}"]
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines) + "\n"


def failure(message: str, hint: str = "") -> PipeTorchError:
    """A failing run (exit 1): a diverging loss, an empty split found while running, ..."""
    return PipeTorchError(message, hint, input=False)
