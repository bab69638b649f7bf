"""``python -m inception_nb.exercises grade DIR [--json] [--csv FILE]`` / ``... make [--check]``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
