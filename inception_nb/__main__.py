"""Entry point for `python -m inception_nb` (and `torchrun -m inception_nb`)."""

import sys

try:
    from .cli import main  # imports torch: seconds in which a Ctrl-C must not print a traceback either

    code = main()
except KeyboardInterrupt:
    print("interrupted (Ctrl-C) while starting; nothing was written", file=sys.stderr)
    code = 130
sys.exit(code)
