"""How the command line ends when something fails: one `error:` line naming the fix, an exit status scripts can
test, SIGTERM treated as Ctrl-C, and output to a reader that has gone (`| head`) dropped quietly."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator

from .images import worker_message
from .oserrors import PipeGuard, describe_os_error

TERMINATED = 143  # the shell's status for a process ended by SIGTERM


def memory_advice(args) -> str:
    """Return what to lower after an allocator's refusal, naming only options that can still go down."""
    batch = getattr(args, "batch_size", None)
    if args.command in ("train", "bench"):
        return "lower --image-size, or use a device with more memory" if batch == 1 else \
            "lower --batch-size or --image-size"
    if args.command == "evaluate":
        return "use a device with more memory (--device)" if batch == 1 else "lower --batch-size"
    if args.command == "predict":
        return "pass fewer images per call"
    return "lower --image-size"


def os_error_line(error: OSError) -> str:
    """Return the one line for an OS error on a path the user gave (too long, no permission, disk full, ...)."""
    if error.errno is None and error.filename is None:  # re-raised from a DataLoader worker as OSError(text)
        return worker_message(str(error))
    return describe_os_error(error)


class Terminated:
    """Whether a SIGTERM arrived; while `handled()` is active it stops the command the way Ctrl-C does."""

    def __init__(self) -> None:
        self.seen = False

    @contextlib.contextmanager
    def handled(self) -> Iterator[None]:
        """Within the block SIGTERM raises SIGINT: fit then saves what it finished and stops cleanly."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_sigterm(signum, frame) -> None:
            self.seen = True
            signal.raise_signal(signal.SIGINT)  # handled by whatever holds SIGINT now (fit's epoch guard or Python)

        previous = signal.signal(signal.SIGTERM, on_sigterm)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def pipe_guarded() -> Iterator[None]:
    """Within the block, output to a closed pipe is dropped instead of raising BrokenPipeError."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = PipeGuard(sys.stdout), PipeGuard(sys.stderr)
    try:
        yield
        sys.stdout.flush()
    finally:
        sys.stdout, sys.stderr = saved
