"""Shared by the tests/test_reliability_*.py files: run the CLI as a user does, and judge its errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Tiny settings: a few seconds a run. 28 px is the seed model's native Fashion-MNIST size.
TINY = ["--limit", "128", "--batch-size", "32", "--image-size", "28", "--device", "cpu"]


def cli_env(**extra) -> dict:
    """Return the environment for a CLI process that imports this checkout's package."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", **extra)
    env.pop("INCEPTION_NB_PROFILE", None)
    return env


def cli(*args, timeout: float = 180, as_plain_user: bool = False, cwd=None, env=None) -> subprocess.CompletedProcess:
    """Run `python -m inception_nb ARGS` in a fresh process; return it finished.

    `as_plain_user`: permissions apply as to anyone; as root that means dropping the capabilities that let
    root read and write past them (root still owns what the test made, so chmod 0 locks it out).
    """
    prefix = []
    if as_plain_user and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: permissions cannot be tested")
        drop = "-dac_override,-dac_read_search"
        prefix = [setpriv, f"--bounding-set={drop}", f"--inh-caps={drop}"]
    return subprocess.run([*prefix, sys.executable, "-m", "inception_nb", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd or ROOT, env=env or cli_env())


def start_cli(*args, env=None, own_group: bool = False) -> subprocess.Popen:
    """Start `python -m inception_nb ARGS` without waiting; stdout is line-buffered text.

    `own_group`: in a process group of its own, as a terminal runs a command (os.killpg reaches its workers).
    """
    return subprocess.Popen([sys.executable, "-u", "-m", "inception_nb", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env or cli_env(),
                            start_new_session=own_group)


def permissions_apply(path: Path) -> bool:
    """Whether a plain user would be refused `path` (False on file systems that ignore modes)."""
    return os.geteuid() == 0 or not os.access(path, os.R_OK | os.W_OK)


def clean_error(done: subprocess.CompletedProcess, *words: str, code: int = 2) -> str:
    """Assert the run failed with `code` and exactly one `error:` line holding all `words`; return that line."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.returncode == code, (done.returncode, done.stderr[-2000:])
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0] == lines[-1], lines
    for word in words:
        assert word.lower() in errors[0].lower(), (word, errors[0])
    return errors[0]


def result_json(done: subprocess.CompletedProcess) -> dict:
    """Return the JSON object a `--json` run printed last (asserting it succeeded without a traceback)."""
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])


def interrupt_after(process: subprocess.Popen, marker: str, delay: float, timeout: float = 240) -> list:
    """Send SIGINT `delay` seconds after `marker` shows up in the process's stdout; return the lines read."""
    lines, deadline = [], time.monotonic() + timeout
    for line in process.stdout:
        lines.append(line)
        if marker in line:
            time.sleep(delay)
            process.send_signal(signal.SIGINT)
            break
        assert time.monotonic() < deadline, "the run never printed " + marker
    return lines


def listing(folder: Path) -> dict:
    """Return {name: bytes} of the files in `folder`, to compare before and after."""
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir()) if p.is_file()}
