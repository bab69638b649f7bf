"""OS errors in the user's words: a path that cannot be used (too long, a dangling link, no permission, disk full)
becomes one message naming the path and the fix, and a closed output pipe ends output quietly."""

from __future__ import annotations

import errno
import os
from pathlib import Path

__all__ = ["PathError", "describe_os_error", "path_error", "check_usable_path", "PipeGuard"]

# What to do about each failure, by errno; {path} is filled in.
_FIXES = {
    errno.ENAMETOOLONG: "file name too long: {path}; shorten it (at most 255 bytes per folder or file name)",
    errno.ENOSPC: "disk full: cannot write {path}; free some space or choose a folder on another disk",
    errno.EDQUOT: "disk quota exceeded: cannot write {path}; free some space or choose a folder on another disk",
    errno.EACCES: "permission denied: {path}; give yourself access or choose another path",
    errno.EPERM: "permission denied: {path}; give yourself access or choose another path",
    errno.EROFS: "read-only file system: cannot write {path}; choose a folder you can write to",
    errno.ELOOP: "too many levels of symbolic links at {path}; fix the links or choose another path",
    errno.ENOTDIR: "{path}: a part of this path is a file, not a folder; choose another path",
    errno.EISDIR: "{path} is a folder, not a file; pass a file",
    errno.EIO: "input/output error at {path}: the disk or network share failed; check it and try again",
}


class PathError(OSError):
    """An OSError whose text already names the path and the fix (str() is that text alone)."""

    def __str__(self) -> str:
        return str(self.strerror)


def describe_os_error(error: OSError, path=None) -> str:
    """Return one line naming what failed on which path and what to do about it."""
    if isinstance(error, PathError):
        return str(error)
    where = path if path is not None else (error.filename if error.filename is not None else "a file")
    fix = _FIXES.get(error.errno)
    if fix:
        return fix.format(path=where)
    return f"{error.strerror or error}: {where}; check the path, or choose another"


def path_error(error: OSError, path=None) -> PathError:
    """Return `error` as a PathError whose message names `path` (or the error's own file name) and the fix."""
    where = path if path is not None else error.filename
    return PathError(error.errno, describe_os_error(error, where), None if where is None else str(where))


def check_usable_path(path) -> None:
    """Raise PathError if `path` is a dangling symbolic link or has a name longer than the file system allows."""
    path = Path(path)
    for part in path.parts:
        if len(os.fsencode(part)) > 255:
            raise PathError(errno.ENAMETOOLONG, describe_os_error(OSError(errno.ENAMETOOLONG, ""), path), str(path))
    if path.is_symlink():
        try:
            os.stat(path)
        except FileNotFoundError:
            target = os.readlink(path)
            raise PathError(errno.ENOENT, f"{path} is a symbolic link to {target}, which does not exist; create "
                                          f"{target} or remove the link, or choose another path", str(path)) from None
        except OSError as err:  # a loop of links, a link into a folder we may not enter, ...
            raise path_error(err, path) from None


class PipeGuard:
    """Stand-in for stdout or stderr: once the reader has gone (`... | head`), further output is dropped.

    Training goes on and saves its files; only the text nobody reads is lost.
    """

    def __init__(self, stream):
        self._stream, self.closed_by_reader = stream, False

    def write(self, text: str) -> int:
        """Write `text`, or drop it once the reader has gone."""
        if not self.closed_by_reader:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._reader_gone()
        return len(text)

    def flush(self) -> None:
        """Flush, or do nothing once the reader has gone."""
        if not self.closed_by_reader:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._reader_gone()

    def _reader_gone(self) -> None:
        self.closed_by_reader = True
        # Point the descriptor at /dev/null, so the interpreter's last flush at exit finds no broken pipe either.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def __getattr__(self, name: str):
        return getattr(self._stream, name)
