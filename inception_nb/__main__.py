"""Entry point for `python -m inception_nb` (and `torchrun -m inception_nb`)."""

import os
import sys

try:
    from .cli import main  # imports torch: seconds in which a Ctrl-C must not print a traceback either

    code = main()
except KeyboardInterrupt:
    print("interrupted (Ctrl-C) while starting; nothing was written", file=sys.stderr)
    code = 130
if code == 130:
    # The Ctrl-C was handled and the files are consistent. Exit now: when the KeyboardInterrupt passed through
    # Python code that a C extension ran, CPython remembers it as unhandled and, at a normal exit, kills the
    # process with SIGINT instead of returning 130 (seen about once in six runs).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
