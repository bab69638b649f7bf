"""Run folders: one run at a time in a folder, never over a finished run unless asked, and Ctrl-C held back
while a run's files are being written."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

RUN_FILES = ("best.pt", "last.pt", "history.json")
LOCK_NAME = ".inception-nb.lock"  # hidden, and gone again when the run ends


class RunFolderError(ValueError):
    """An output folder that cannot be used: not writable, in use, or holding a run nobody asked to replace."""


def finished_run_files(folder) -> list:
    """Return the names of a run's files (best.pt, last.pt, history.json) already in `folder`."""
    folder = Path(folder)
    return [name for name in RUN_FILES if (folder / name).exists()]


def check_run_folder(folder, resume=None, overwrite: bool = False) -> None:
    """Refuse (RunFolderError) a folder that cannot be written or that holds a run this one would replace unasked.

    Resuming from the folder's own last.pt continues that run and is always allowed.
    """
    folder = Path(folder)
    _check_writable(folder)
    found = finished_run_files(folder)
    continues = resume is not None and Path(resume).resolve().parent == folder.resolve()
    if found and not overwrite and not continues:
        raise RunFolderError(
            f"{folder} already holds a run ({', '.join(found)}); continue it with resume={folder / 'last.pt'}, "
            f"replace it with overwrite=True, or choose another TrainConfig.out_dir")


def _check_writable(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(f"{folder} is a file, not a folder; choose another TrainConfig.out_dir")
    existing = folder
    while not existing.exists():  # the nearest ancestor that exists is where the folder would be created
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise RunFolderError(f"cannot create {folder}: {existing} is a file, not a folder; choose another "
                             f"TrainConfig.out_dir")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise RunFolderError(f"permission denied: cannot write to {existing} (to create {folder}); choose a "
                             f"TrainConfig.out_dir you can write to")


@contextlib.contextmanager
def hold_run_folder(folder) -> Iterator[None]:
    """Hold `folder` for a run's whole length; a second run asking for it meanwhile gets a RunFolderError.

    The hold is an OS file lock, so a run that crashes or is killed releases it with its process.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        raise RunFolderError(f"permission denied: cannot create {folder}; choose a TrainConfig.out_dir you can "
                             f"write to") from None
    path = folder / LOCK_NAME
    handle = _acquire(path, folder)
    try:
        yield
    finally:
        # Remove the file while still holding it: a waiting process then finds its inode gone and retries.
        with contextlib.suppress(OSError):
            path.unlink()
        handle.close()


def _acquire(path: Path, folder: Path):
    while True:
        handle = open(path, "a+")
        if not _try_lock(handle):
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise RunFolderError(f"{folder} is in use by another run (pid {holder}); wait for it to end or "
                                 f"choose another TrainConfig.out_dir")
        try:
            same_file = os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same_file = False
        if same_file:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            return handle
        handle.close()  # the previous holder removed the file between our open and our lock: try again


def _try_lock(handle) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


class InterruptRequest:
    """What a held-back Ctrl-C left behind: whether one came, and whether a second one may cut in."""

    def __init__(self) -> None:
        self.requested = False
        self.shielded = False  # while files are written even a second Ctrl-C waits


@contextlib.contextmanager
def interrupts_held(notice: str) -> Iterator[InterruptRequest]:
    """Within the block a first Ctrl-C is only recorded (print `notice`); a second one stops at once, unless
    the block is `shielded`. Outside the main thread (where signals cannot be caught) nothing is held."""
    request = InterruptRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:  # the caller chose to ignore Ctrl-C; keep it that way
        yield request
        return

    def on_interrupt(signum, frame) -> None:
        if request.requested and not request.shielded:
            raise KeyboardInterrupt
        if not request.requested:
            print(notice, flush=True)
        request.requested = True

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield request
    finally:
        signal.signal(signal.SIGINT, previous)


def describe_resume(folder: Path | None) -> str:
    """Return the advice that ends an interrupted run's message."""
    if folder is None or not (Path(folder) / "last.pt").exists():
        return "nothing was saved (no epoch finished)"
    return f"resume from {Path(folder) / 'last.pt'}"
