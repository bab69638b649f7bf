"""The registry of cited facts: numbers the notebooks may type because a source states them, not a run.

Each entry is a number as the prose types it, what it means, and where it comes from (the paper, the seed post in
/work/shared/seed, Fashion-MNIST's paper, a configuration of this package, or plain arithmetic). Where the package
can confirm the fact, `check` does, so a changed recipe cannot leave a stale entry behind. tests/test_typed_numbers.py
lets a notebook type a number only if an output of that notebook prints it or an entry here matches it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from collections.abc import Callable

PAPER = "Szegedy et al. 2015, Going deeper with convolutions (arXiv:1409.4842)"
POST = "the seed post (365天深度学习训练营, K同学啊), /work/shared/seed"
FMNIST = "Xiao, Rasul and Vollgraf 2017, Fashion-MNIST (arXiv:1708.07747)"


# Rows of docs/performance.md's two-epoch table (seed, float32, bfloat16) that notebook 02 cites.
SEED_0_ROW, SEED_1_ROW = "| 0 | 90.10 % | 89.91 % |", "| 1 | 90.25 % | 90.32 % |"


@dataclass(frozen=True)
class Fact:
    """A number the prose may state, its meaning, its source, and (optionally) a check that it still holds."""

    number: str
    meaning: str
    source: str
    check: Callable[[], bool] | None = None
    where: tuple[str, ...] = ()  # the notebook file names it may be typed in; empty: all of them

    def matches(self, typed: str, notebook: str) -> bool:
        """True when a typed number (with its unit, as found in the prose) of the notebook is this fact."""
        return _normal(typed) == _normal(self.number) and (not self.where or notebook in self.where)


def _normal(text: str) -> str:
    return re.sub(r"[\s,\-]", "", text.lower())


def _in_code(notebook: str, text: str) -> bool:
    """True when a code cell of the notebook (a path under the repository) contains the text."""
    import json

    from inception_nb.paths import REPO_ROOT

    cells = json.loads((REPO_ROOT / notebook).read_text(encoding="utf-8"))["cells"]
    return any(text in "".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")


def _in_doc(path: str, text: str) -> bool:
    """True when a document of the repository (a path under it) contains the text."""
    from inception_nb.paths import REPO_ROOT

    return text in (REPO_ROOT / path).read_text(encoding="utf-8")


def _train(field: str, profile: str = "cpu"):
    from inception_nb.config import get_profile

    return getattr(get_profile(profile).train, field)


FACTS: list[Fact] = [
    # The seed post
    Fact("365-day", "the name of the camp the post comes from, 365天深度学习训练营", POST + ", its first line"),
    Fact("365天", "the name of the camp the post comes from, 365天深度学习训练营", POST + ", its first line"),
    Fact("9,472", "weights and biases of the post's conv1, 3 -> 64 channels, 7 x 7", POST + ", torchsummary table"),
    Fact("7,012,472", "parameters of the post's network (its torchsummary total)", POST + ", section 1.2"),
    Fact("1e-4", "the post's learning rate, learn_rate = 1e-4", POST + ", section 1.3"),
    Fact("1,875", "the post's batches per epoch, 60000 / 32 (its comment)", POST + ", section 1.3"),
    Fact("37,500", "the post's optimizer steps: 1,875 per epoch x 20 epochs", POST + ", section 1.3 (arithmetic)",
         lambda: 1875 * 20 == 37_500),
    Fact("0.4", "the post's dropout before the classifier, nn.Dropout(0.4)", POST + ", section 1.2"),
    Fact("1,200,000", "images of the post's 20 epochs of 60,000", POST + ", section 1.3 (arithmetic)",
         lambda: 20 * 60_000 == 1_200_000),
    # Fashion-MNIST
    Fact("60,000", "Fashion-MNIST training images", FMNIST),
    Fact("10,000", "Fashion-MNIST test images", FMNIST),
    Fact("3,000", "Fashion-MNIST test images of the three footwear classes (1,000 each)", FMNIST),
    # The paper
    Fact("0.3", "weight of each auxiliary classifier's loss", PAPER + ", section 5"),
    Fact("70%", "dropout ratio in the auxiliary classifiers", PAPER + ", section 5"),
    Fact("1024", "units of the auxiliary classifiers' fully connected layer; channels of inception (5b)",
         PAPER + ", section 5 and Table 1"),
    Fact("12 times", "GoogLeNet's parameters against AlexNet's: 12 times fewer", PAPER + ", section 1"),
    Fact("12x", "GoogLeNet's parameters against AlexNet's: 12 times fewer", PAPER + ", section 1"),
    Fact("1.5 billion", "the inference budget GoogLeNet was designed for, in multiply-adds", PAPER + ", section 1"),
    Fact("1.2 million", "ImageNet's training images", PAPER + ", section 7"),
    # Arithmetic on the facts above
    Fact("2.30", "ln(10), the cross-entropy of a uniform guess over ten classes", "arithmetic",
         lambda: f"{math.log(10):.2f}" == "2.30"),
    Fact("10 %", "chance accuracy on ten balanced classes", "arithmetic: 1 / 10"),
    Fact("20 %", "twice the chance accuracy of ten balanced classes", "arithmetic: 2 / 10"),
    Fact("9,408", "weights of a 7 x 7 convolution from 3 to 64 channels", "arithmetic: 7 * 7 * 3 * 64",
         lambda: 7 * 7 * 3 * 64 == 9408),
    Fact("49-fold", "cost growth from 32 x 32 to 224 x 224 input: (224 / 32) squared pixels",
         "arithmetic", lambda: (224 // 32) ** 2 == 49),
    Fact("100 %", "certainty: a probability of 1", "arithmetic"),
    # Measurements recorded in docs/performance.md (one run each; the notebooks say so where they cite them)
    Fact("90.23 %", "test accuracy of the cpu profile's two epochs on two idle cores", "docs/performance.md",
         lambda: _in_doc("docs/performance.md", "90.23 % after 119,808 images")),
    Fact("90.10", "lowest of three float32 seeds of the cpu profile through the CLI on a CPU with AMX",
         "docs/performance.md", lambda: _in_doc("docs/performance.md", SEED_0_ROW)),
    Fact("90.25 %", "highest of three float32 seeds of the cpu profile through the CLI on a CPU with AMX",
         "docs/performance.md", lambda: _in_doc("docs/performance.md", SEED_1_ROW)),
    Fact("89.91", "lowest of three bfloat16 seeds of the cpu profile through the CLI on a CPU with AMX",
         "docs/performance.md", lambda: _in_doc("docs/performance.md", SEED_0_ROW)),
    Fact("90.32 %", "highest of three bfloat16 seeds of the cpu profile through the CLI on a CPU with AMX",
         "docs/performance.md", lambda: _in_doc("docs/performance.md", SEED_1_ROW)),
    Fact("0.4 points", "recipe M (no dropout) against L (the post's dropout 0.4): 90.38 % - 89.94 %",
         "docs/performance.md, the fast recipe table", lambda: _in_doc("docs/performance.md", "gained 0.4 points")),
    Fact("2.8 points", "recipe Q (crop + flip augmentation) against M: 87.56 % - 90.38 %",
         "docs/performance.md, the fast recipe table", lambda: _in_doc("docs/performance.md", "cost 2.8 points")),
    # This package's configuration (checked against it)
    Fact("0.1", "the cpu recipe's label smoothing", "inception_nb/config.py, TrainConfig.label_smoothing",
         lambda: _train("label_smoothing") == 0.1),
    Fact("0.91", "best training target with label smoothing 0.1 over ten classes: 1 - 0.1 + 0.1/10",
         "arithmetic on TrainConfig.label_smoothing", lambda: round(1 - 0.1 + 0.1 / 10, 2) == 0.91),
    Fact("91 %", "the same best training target as a percentage", "arithmetic on TrainConfig.label_smoothing"),
    Fact("0.9", "1 - label smoothing 0.1", "arithmetic on TrainConfig.label_smoothing"),
    Fact("0.01", "label smoothing 0.1 / 10 classes", "arithmetic on TrainConfig.label_smoothing"),
    Fact("1.0", "the optimum target without label smoothing", "arithmetic"),
    # Settings typed in the exercises' code cells (checked against them)
    Fact("20 seconds", "exercise 5's training time budget per network", "exercises/05_ablation.ipynb, its config cell",
         lambda: _in_code("exercises/05_ablation.ipynb", "time_budget=20,"), where=("05_ablation.ipynb",)),
    Fact("2,000", "images per split in exercise 5 (DataConfig limit)", "exercises/05_ablation.ipynb, its data cell",
         lambda: _in_code("exercises/05_ablation.ipynb", "limit=2000"), where=("05_ablation.ipynb",)),
]
