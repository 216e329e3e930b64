"""`python -m sandbox [--host H] [--port P] [--state-dir DIR]`: serve the sandbox tenant on its own."""

import sys

from sandbox.cli import main

sys.exit(main(["sandbox", *sys.argv[1:]]))
