"""The command line: ``python -m inception_nb.exercises grade DIR [--json]`` and ``... make [--check|--force]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

from .grading import REPO_ROOT


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run `grade FOLDER [--json] [--timeout S]` or `make [--check] [--no-execute] [--force]`; return the exit code."""
    # grade_folder and format_grades are looked up on the package at call time, so patching
    # inception_nb.exercises.grade_folder (as the tests do) takes effect here.
    package = sys.modules[__package__]
    parser = argparse.ArgumentParser(prog="python -m inception_nb.exercises",
                                     description=package.__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    grade = sub.add_parser("grade", help="execute and check every notebook in a folder of submissions")
    grade.add_argument("folder", type=Path)
    grade.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    grade.add_argument("--timeout", type=float, default=300.0, help="seconds per notebook (default 300)")
    make = sub.add_parser("make", help="rebuild notebooks/exercises/{student,solutions} from exercises/")
    make.add_argument("--check", action="store_true", help="write nothing; exit 1 if a notebook is out of date")
    make.add_argument("--no-execute", action="store_true", help="write solutions without running them")
    make.add_argument("--force", action="store_true", help="re-execute every solution notebook")
    args = parser.parse_args(argv)
    if args.command == "make":
        import importlib.util

        spec = importlib.util.spec_from_file_location("make_exercises", REPO_ROOT / "scripts" / "make_exercises.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        flags = [f"--{name.replace('_', '-')}" for name in ("check", "no_execute", "force") if getattr(args, name)]
        return module.main(flags)
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder; pass the folder that holds the submitted notebooks")
    rows = package.grade_folder(args.folder, args.timeout)
    if not rows:
        parser.error(f"no .ipynb files under {args.folder}")
    print(json.dumps(rows, indent=2, ensure_ascii=False) if args.json else package.format_grades(rows))
    return 0 if all(r["passed"] for r in rows) else 1
