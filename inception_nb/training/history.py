"""Training history: one record per epoch, the reason training stopped, and the history.json file."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["EpochRecord", "StepRecord", "History"]


@dataclass
class EpochRecord:
    """One row of training history."""

    epoch: int
    train_acc: float
    train_loss: float
    test_acc: float
    test_loss: float
    lr: float
    seconds: float
    images_seen: int


@dataclass
class StepRecord:
    """Training loss and accuracy averaged over the steps since the previous record, inside an epoch."""

    epoch: float  # position in epochs: 0.5 is halfway through epoch 1, 1.0 its end
    images_seen: int
    train_loss: float
    train_acc: float


@dataclass
class History:
    """Per-epoch metrics of a `fit` run, with the reason it stopped."""

    epochs: list = field(default_factory=list)
    stopped: str = "completed"  # "running" while fit trains, then "completed", "time budget" or "interrupted"
    steps: list = field(default_factory=list)  # StepRecords: a learning curve inside the epochs

    def append(self, record: EpochRecord) -> None:
        """Add one epoch's metrics."""
        self.epochs.append(record)

    def column(self, name: str) -> list:
        """Return one metric over all epochs, e.g. `history.column("test_acc")`."""
        return [getattr(r, name) for r in self.epochs]

    @property
    def last(self) -> EpochRecord | None:
        """Return the newest epoch's record, or None before the first epoch ends."""
        return self.epochs[-1] if self.epochs else None

    @property
    def best_test_acc(self) -> float:
        """Return the highest test accuracy seen."""
        return max(self.column("test_acc"), default=0.0)

    @property
    def images_seen(self) -> int:
        """Return how many training images went through the model in total."""
        return self.epochs[-1].images_seen if self.epochs else 0

    @property
    def seconds(self) -> float:
        """Return the total training time in seconds (evaluation excluded)."""
        return sum(self.column("seconds"))

    def to_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return {"stopped": self.stopped, "epochs": [asdict(r) for r in self.epochs],
                "steps": [asdict(r) for r in self.steps]}

    @classmethod
    def from_dict(cls, data: dict) -> History:
        """Rebuild a History from `to_dict` output."""
        return cls([EpochRecord(**r) for r in data["epochs"]], data.get("stopped", "completed"),
                   [StepRecord(**r) for r in data.get("steps", [])])  # histories before steps existed have none

    def save(self, path: str | Path) -> None:
        """Write the history as JSON, atomically, under a temporary name of its own."""
        from .checkpoint import atomic_write  # checkpoint imports the model; keep `import history` light

        text = json.dumps(self.to_dict(), indent=2)
        atomic_write(path, lambda tmp: Path(tmp).write_text(text))

    @classmethod
    def load(cls, path: str | Path) -> History:
        """Read a history.json written by `fit`."""
        return cls.from_dict(json.loads(Path(path).read_text()))

    def table(self) -> str:
        """Return the history as an aligned text table."""
        lines = ["epoch  train_acc  train_loss  test_acc  test_loss      lr  seconds"]
        for r in self.epochs:
            lines.append(f"{r.epoch:5d}  {r.train_acc:9.2%}  {r.train_loss:10.4f}  {r.test_acc:8.2%}"
                         f"  {r.test_loss:9.4f}  {r.lr:6.4f}  {r.seconds:7.1f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()
