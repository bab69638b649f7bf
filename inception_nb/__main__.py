"""Entry point for `python -m inception_nb` (and `torchrun -m inception_nb`)."""

import os
import signal
import sys

_ctrl_c_seen = False


def _on_ctrl_c(signum, frame) -> None:
    # Remember the Ctrl-C as well as raising it: C code run while torch imports can swallow the exception,
    # and the import would then go on as if no Ctrl-C had come.
    global _ctrl_c_seen
    _ctrl_c_seen = True
    raise KeyboardInterrupt


signal.signal(signal.SIGINT, _on_ctrl_c)
try:
    from .cli import main  # imports torch: seconds in which a Ctrl-C must not print a traceback either

    if _ctrl_c_seen:
        raise KeyboardInterrupt
    signal.signal(signal.SIGINT, signal.default_int_handler)  # from here on, fit and the CLI decide
    code = main()
except KeyboardInterrupt:
    print("interrupted (Ctrl-C) while starting; nothing was written", file=sys.stderr)
    code = 130
if code in (130, 143):  # Ctrl-C, or SIGTERM handled as one
    # The Ctrl-C was handled and the files are consistent. Exit now: when the KeyboardInterrupt passed through
    # Python code that a C extension ran, CPython remembers it as unhandled and, at a normal exit, kills the
    # process with SIGINT instead of returning 130 (seen about once in six runs).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
