"""Run folders: one run at a time in a folder, never over a finished run unless asked, and Ctrl-C held back
while a run's files are being written."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

from ..oserrors import check_usable_path, describe_os_error, path_error
from .checkpoint import copy_file, save_checkpoint

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
    if not isinstance(overwrite, bool):  # "no" would count as yes and replace a finished run
        raise TypeError(f"overwrite must be True or False, got {overwrite!r}")
    if resume is not None and not isinstance(resume, (str, os.PathLike)):
        raise TypeError(f"resume must be the path of a last.pt (str or Path) or None, got {type(resume).__name__}")
    folder = Path(folder)
    try:
        check_usable_path(folder)
        _check_writable(folder)
        found = finished_run_files(folder)
        continues = resume is not None and Path(resume).resolve().parent == folder.resolve()
    except OSError as err:
        raise RunFolderError(f"{describe_os_error(path_error(err, folder))} (TrainConfig.out_dir)") from None
    if found and not overwrite and not continues:
        how = ("a run that was killed mid-way (history.json still says 'running' and no process holds the folder)"
               if was_killed(folder) else "a run")
        raise RunFolderError(
            f"{folder} already holds {how} ({', '.join(found)}); continue it with resume={folder / 'last.pt'}, "
            f"replace it with overwrite=True, or choose another TrainConfig.out_dir")


def was_killed(folder) -> bool:
    """Whether `folder` holds a run that ended without saying so (SIGKILL, a crash of the machine): its history
    still says "running" and no process holds the folder."""
    folder = Path(folder)
    try:
        stopped = json.loads((folder / "history.json").read_text()).get("stopped")
    except (OSError, ValueError, AttributeError):
        return False
    return stopped == "running" and not _held_by_another(folder)


def _held_by_another(folder: Path) -> bool:
    try:
        handle = open(folder / LOCK_NAME, "r+")
    except OSError:
        return False  # no lock file: nobody holds it
    with handle:
        return not _try_lock(handle)  # closing the handle releases a lock we took just to look


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
    created = [p for p in (folder, *folder.parents) if not p.exists()]  # innermost first
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunFolderError(f"cannot create {folder}: {describe_os_error(err)} (TrainConfig.out_dir)") from None
    path = folder / LOCK_NAME
    try:
        handle = _acquire(path, folder)
    except BaseException:
        _remove_if_empty(created)
        raise
    try:
        yield
    finally:
        # Remove the file while still holding it: a waiting process then finds its inode gone and retries. A lock
        # file a killed run left (nobody holds it) was taken over by _acquire and goes here too.
        with contextlib.suppress(OSError):
            path.unlink()
        handle.close()
        _remove_if_empty(created)  # a run that saved nothing leaves no empty folder behind


def _remove_if_empty(created: list) -> None:
    """Remove the folders this run created (innermost first) while they are empty; a user's folder is never one."""
    for folder in created:
        try:
            folder.rmdir()  # fails, and so stops, at the first folder that holds anything
        except OSError:
            return


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


def write_epoch_files(out_dir: Path, model, data, config, history, optimizer, epoch: int, spent: float,
                      is_best: bool, resume=None) -> None:
    """Write a finished epoch's last.pt, then best.pt if it is the best so far, then history.json."""
    save_checkpoint(out_dir / "last.pt", model, data, config, history, optimizer, epoch, spent)
    best, earlier_best = out_dir / "best.pt", Path(resume).parent / "best.pt" if resume else None
    if not is_best and not best.exists() and earlier_best is not None and earlier_best.is_file():
        copy_file(earlier_best, best)  # a resume into a new folder: the best epoch so far is in the old one
    elif is_best or not best.exists():
        save_checkpoint(best, model, data, config, history, None, epoch, spent)
    history.save(out_dir / "history.json")


def describe_resume(folder: Path | None) -> str:
    """Return the advice that ends an interrupted run's message."""
    if folder is None or not (Path(folder) / "last.pt").exists():
        return "nothing was saved (no epoch finished)"
    return f"resume from {Path(folder) / 'last.pt'}"
