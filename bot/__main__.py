"""Entry point: `python -m bot`; with no credentials set, the sandbox bridge runs the command."""

import os
import sys

from bot.cli import main, runs_in_sandbox


def entry(argv: list[str]) -> int:
    if runs_in_sandbox(argv, os.environ):
        from sandbox.cli import main as sandbox_main  # the one place production reaches the sandbox

        return sandbox_main(argv)
    return main(argv)


try:
    sys.exit(entry(sys.argv[1:]))
except BrokenPipeError:  # output piped into `head` and the like
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(1)
