"""Progress lines for pipe's live display: when `PIPE_PROGRESS` names a file, each update appends
one line (`step 40/100 loss 0.412`); pipe shows the file's last line."""

import os
import sys


class Progress:
    def __init__(self, path: str = None):
        self.path = path if path is not None else os.environ.get("PIPE_PROGRESS") or None

    def update(self, line: str) -> None:
        if not self.path:
            return
        try:
            with open(self.path, "a", encoding="utf-8") as file:
                file.write(line.replace("\n", " ") + "\n")
        except OSError as error:  # progress is a display, never a reason to fail
            print(f"warning: cannot write progress to {self.path}: {error.strerror}", file=sys.stderr)
            self.path = None


def log(message: str) -> None:
    """A log line on stderr (pipe captures it as the stage's log)."""
    print(message, file=sys.stderr, flush=True)
