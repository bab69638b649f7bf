"""Entry point for `python -m inception_nb` (and `torchrun -m inception_nb`)."""

import sys

from .cli import main

sys.exit(main())
