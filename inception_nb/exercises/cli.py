"""The command line: ``python -m inception_nb.exercises grade DIR [--json] [--csv FILE]``, ``make``, ``nbgrader``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from collections.abc import Sequence

from . import build, grading, nbgrader_course


def main(argv: Sequence[str] | None = None) -> int:
    """Run `grade FOLDER ...` or `make ...` (see --help); return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m inception_nb.exercises",
                                     description="Build the classroom exercise notebooks and grade submissions.")
    sub = parser.add_subparsers(dest="command", required=True)
    grade = sub.add_parser("grade", help="execute every notebook in a folder of submissions and check it")
    grade.add_argument("folder", type=Path, help="the folder of submitted notebooks (sub-folders too)")
    grade.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    grade.add_argument("--csv", type=Path, metavar="FILE", help="also write the rows to FILE as CSV (default: none)")
    grade.add_argument("--timeout", type=float, default=300.0, help="seconds per notebook (default 300)")
    grade.add_argument("--sources", type=Path, metavar="DIR", help="the exercise sources the handouts are built from "
                       "(default: ./exercises, else the clone's exercises/)")
    course = sub.add_parser("nbgrader", help="write the exercises as an nbgrader course (source/, nbgrader_config.py)")
    course.add_argument("folder", type=Path, help="the course folder to write (created if missing)")
    course.add_argument("--sources", type=Path, metavar="DIR", help="the source notebooks (default as for make)")
    make = sub.add_parser("make", help="build student/ and solutions/ notebooks from the exercise sources")
    make.add_argument("--sources", type=Path, metavar="DIR", help="the source notebooks (default: ./exercises, "
                      "else the exercises/ folder of the clone the package runs from)")
    make.add_argument("--out", type=Path, metavar="DIR", help="where student/ and solutions/ go (default: "
                      "notebooks/exercises beside the sources' folder)")
    make.add_argument("--check", action="store_true", help="write nothing; exit 1 if a notebook is out of date")
    make.add_argument("--no-execute", action="store_true", help="write solutions without running them")
    make.add_argument("--force", action="store_true", help="re-execute every solution notebook")
    args = parser.parse_args(argv)
    if args.command == "make":
        try:
            return build.make(args.sources, args.out, check=args.check, run=not args.no_execute, force=args.force)
        except FileNotFoundError as e:
            parser.error(str(e).replace("sources= (--sources DIR)", "--sources DIR"))
    if args.command == "nbgrader":
        try:
            written = nbgrader_course.write_course(args.folder, args.sources)
        except FileNotFoundError as e:
            parser.error(str(e).replace("sources= (--sources DIR)", "--sources DIR"))
        print(f"wrote {len(written)} files to {args.folder}; then, in that folder: nbgrader generate_assignment NAME")
        return 0
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder; pass the folder that holds the submitted notebooks")
    if args.csv and not args.csv.parent.is_dir():
        parser.error(f"--csv {args.csv}: the folder {args.csv.parent} does not exist")
    rows = grading.grade_folder(args.folder, args.timeout, args.sources)
    if not rows:
        parser.error(f"no .ipynb files under {args.folder}")
    print(json.dumps(rows, indent=2, ensure_ascii=False) if args.json else grading.format_grades(rows))
    if args.csv:
        grading.write_csv(rows, args.csv)
        print(f"wrote {args.csv}")
    return 0 if all(r["passed"] for r in rows) else 1
