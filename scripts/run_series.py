"""Execute the notebook series 00 to 05 headless, in order, as `make run` does.

Executed notebooks go to out/notebooks/, their figures to out/figures/; the script ends by
printing the final test accuracy that 02_training recorded. Exits non-zero if a notebook fails.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from inception_nb.paths import REPO_ROOT, RUNS_DIR  # RUNS_DIR honours INCEPTION_NB_RUNS, as the notebooks do

NOTEBOOKS = REPO_ROOT / "notebooks"
OUT = REPO_ROOT / "out"


def save_figures(nb, stem: str, folder: Path) -> int:
    """Write every PNG output of an executed notebook to `folder`; return how many."""
    count = 0
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                count += 1
                (folder / f"{stem}_cell{index:02d}_{count}.png").write_bytes(base64.b64decode(png))
    return count


def main() -> int:
    """Run every numbered notebook; return 0 when all pass."""
    (OUT / "notebooks").mkdir(parents=True, exist_ok=True)
    (OUT / "figures").mkdir(parents=True, exist_ok=True)
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        print(f"error: no notebooks found in {NOTEBOOKS}", file=sys.stderr)
        return 1
    for path in paths:
        start = time.perf_counter()
        print(f"running {path.name} ...", flush=True)
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=1800, kernel_name="python3",
                                resources={"metadata": {"path": str(NOTEBOOKS)}})
        try:
            client.execute()
        except CellExecutionError as err:
            nbformat.write(nb, OUT / "notebooks" / path.name)
            print(f"error: {path.name} failed; the partly executed copy is in {OUT / 'notebooks' / path.name}\n{err}",
                  file=sys.stderr)
            return 1
        nbformat.write(nb, OUT / "notebooks" / path.name)
        figures = save_figures(nb, path.stem, OUT / "figures")
        print(f"  done in {time.perf_counter() - start:.0f} s, {figures} figure(s)", flush=True)
    print(f"\nExecuted notebooks: {OUT / 'notebooks'}")
    print(f"Figures:            {OUT / 'figures'}")
    history = RUNS_DIR / "notebook" / "history.json"
    if history.exists():
        last = json.loads(history.read_text())["epochs"][-1]
        print(f"Final test accuracy (02_training): {last['test_acc']:.2%} after {last['epoch']} epoch(s), "
              f"{last['images_seen']:,} training images")
    else:
        print("No training history yet: 02_training.ipynb writes runs/notebook/history.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
