"""Tables and figures for notebook 05's controls (claims.py), and the closing table: per claim of the post,
what was measured, against which control, and what came out."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt

from .claims import LEARNED_BELOW, ShortRun, TinyMapCost

__all__ = ["select", "spread", "plot_gradients", "plot_sweep", "sweep_table", "norm_table", "learned_count",
           "learned_rates", "Findings", "claims_table"]

SMOOTH = 5      # steps per point of the sweep's loss curves: single steps of 32 images are noisy
LOSS_TOP = 4.0  # the sweep's loss axis ends here, so a diverging run does not flatten the others


def select(runs: list[ShortRun], network: str, init: str = "pytorch", lr: float | None = None) -> list[ShortRun]:
    """Return the runs of `network` with initialisation `init` (and learning rate `lr`, when given)."""
    return [r for r in runs if r.network == network and r.init == init and lr in (None, r.lr)]


def spread(norms: dict[str, float]) -> float:
    """Return the largest over the smallest gradient norm of one network's layers."""
    return max(norms.values()) / min(norms.values())


def plot_gradients(gradients: dict[str, dict[str, float]]):
    """Plot each network's gradient norm per layer, input side on the left, on a log scale."""
    fig, ax = plt.subplots(figsize=(11, 4))
    for name, norms in gradients.items():
        ax.plot(list(norms), list(norms.values()), marker="o", label=f"{name} (spread {spread(norms):,.0f}x)",
                linestyle="--" if "heads" in name else "-")  # dashed: a network with heads can lie on its twin
    ax.set_yscale("log")
    ax.set_ylabel("gradient norm of the layer's weights")
    ax.tick_params(axis="x", rotation=60)
    ax.set_title("One batch through untrained networks: the gradient each layer receives")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _label(run: ShortRun) -> str:
    return f"{run.network}, {run.init} init"


def plot_sweep(runs: list[ShortRun]):
    """Plot the main classifier's training loss per step: one panel per learning rate, one colour per network."""
    lrs = sorted({run.lr for run in runs})
    labels = list(dict.fromkeys(_label(run) for run in runs))
    fig, axes = plt.subplots(1, len(lrs), figsize=(4 * len(lrs), 3.6), sharey=True, squeeze=False)
    first_seed = min(r.seed for r in runs)
    for ax, lr in zip(axes[0], lrs):
        for run in (r for r in runs if r.lr == lr):
            losses = run.main_losses
            means = [sum(losses[i:i + SMOOTH]) / SMOOTH for i in range(0, len(losses) - SMOOTH + 1, SMOOTH)]
            ax.plot([i + SMOOTH for i in range(0, len(means) * SMOOTH, SMOOTH)], means,
                    color=f"C{labels.index(_label(run))}", alpha=0.85, linestyle="-" if run.seed == first_seed
                    else "--", label=_label(run) if run.seed == first_seed else None)
        ax.axhline(LEARNED_BELOW, color="grey", linewidth=0.8, linestyle=":")
        ax.set_ylim(0, LOSS_TOP)
        ax.set_title(f"learning rate {lr:g}")
        ax.set_xlabel("step")
    axes[0][0].set_ylabel(f"training loss, mean of {SMOOTH} steps")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def sweep_table(runs: list[ShortRun]) -> str:
    """Return a Markdown table: per network and initialisation, the end loss and test accuracy per learning rate."""
    lrs = sorted({run.lr for run in runs})
    out = ["| network | init | " + " | ".join(f"lr {lr:g}: loss / test acc per seed" for lr in lrs) + " |",
           "|---|---|" + "---|" * len(lrs)]
    for label in dict.fromkeys((run.network, run.init) for run in runs):
        cells = []
        for lr in lrs:
            group = [r for r in runs if (r.network, r.init) == label and r.lr == lr]
            cells.append(", ".join(f"{r.end_loss:.2f} / {r.test_acc:.0%}" for r in group))
        out.append(f"| {label[0]} | {label[1]} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def norm_table(runs: list[ShortRun]) -> str:
    """Return a Markdown table of the BatchNorm runs' test loss with running, per-batch and re-estimated stats."""
    rows = [r for r in runs if r.norm_losses]
    kinds = list(rows[0].norm_losses) if rows else []
    out = ["| network | init | lr | seed | " + " | ".join(f"test loss, {k}" for k in kinds) + " |",
           "|---|---|---:|---:|" + "---:|" * len(kinds)]
    out += [f"| {r.network} | {r.init} | {r.lr:g} | {r.seed} | " + " | ".join(f"{r.norm_losses[k]:.2f}" for k in kinds)
            + " |" for r in rows]
    return "\n".join(out)


def learned_count(runs: list[ShortRun], network: str, init: str = "pytorch") -> str:
    """Return 'k of n' runs of `network` with `init` that ended below LEARNED_BELOW."""
    group = select(runs, network, init)
    return f"{sum(r.learned for r in group)} of {len(group)}"


def learned_rates(runs: list[ShortRun]) -> dict[str, list[float]]:
    """Return, per network and initialisation, the learning rates at which every seed's run learned."""
    rates = {}
    for network, init in dict.fromkeys((r.network, r.init) for r in runs):
        group = select(runs, network, init)
        rates[f"{network}, {init} init"] = [lr for lr in sorted({r.lr for r in group})
                                            if all(r.learned for r in group if r.lr == lr)]
    return rates


@dataclass
class Findings:
    """What notebook 05 measured, handed to claims_table."""

    image_size: int             # of the model trained in notebook 02
    field_px: int               # receptive field of one position entering inception3a, in input pixels
    convolutions: int
    params: int
    mac_ratio: float            # block 3a without / with its reductions
    time_ratio: float
    gradients: dict             # network -> layer -> gradient norm
    runs: list                  # ShortRun of the sweep and of the heads' runs
    tiny: TinyMapCost


def claims_table(f: Findings) -> str:
    """Return the closing Markdown table: the post's claim, what was measured, the control, the result."""
    g, runs, steps = f.gradients, f.runs, len(f.runs[0].main_losses)
    lrs = ", ".join(f"{lr:g}" for lr in sorted({r.lr for r in runs}))
    heads_lr = ", ".join(f"{lr:g}" for lr in sorted({r.lr for r in runs if r.network.endswith("heads")}))
    acc = {name: ", ".join(f"{r.test_acc:.0%}" for r in runs if r.network == name and r.lr == float(heads_lr)
                           and r.init == "pytorch") for name in g if "He" not in name}
    rows = [
        ("parallel 1x1, 3x3, 5x5 and pool branches combine several scales",
         f"receptive field of one position entering inception3a: {f.field_px} x {f.field_px} of the "
         f"{f.image_size} x {f.image_size} input (notebook 03)", "none",
         "at this input size the branches differ little in scale; not measured at 224 x 224"),
        ("1x1 reductions cut the computation", "multiply-adds and forward+backward time of block 3a "
         "(192 channels, 28 x 28 map, batch 32)", "the same block without reductions, pool projection kept",
         f"{f.mac_ratio:.1f}x the multiply-adds and {f.time_ratio:.1f}x the time without them"),
        ("auxiliary classifiers fight vanishing gradients", "gradient norm per layer (one batch, untrained); "
         f"training loss and test accuracy after {steps} steps at lr {heads_lr}, 2 seeds",
         "the same network without heads; the BatchNorm network with and without",
         f"heads multiply the paper network's gradient {g['paper + heads']['conv1'] / g['paper']['conv1']:,.0f}x at "
         f"conv1 and {g['paper + heads']['inception4a'] / g['paper']['inception4a']:,.0f}x at inception4a, yet it "
         f"learned in {learned_count(runs, 'paper + heads')} runs (without heads: "
         f"{learned_count([r for r in runs if r.lr == float(heads_lr)], 'paper')}); test accuracy "
         + "; ".join(f"{k}: {v}" for k, v in acc.items())),
        ("144 crops per image and an ensemble of 7 models", "not measured: one model, one view per image",
         "none", "the paper's Table 3: top-5 error 10.07 % (1 model, 1 crop), 7.89 % (1 model, 144 crops), "
         "6.67 % (7 models x 144 crops)"),
        ("complex structure, hard to tune and implement", f"{f.convolutions} convolutions, {f.params:,} parameters",
         "none", "not measured: this series tuned the training recipe, never the architecture"),
        ("branches may compute redundant work", f"share of a training step (batch {f.tiny.batch}, "
         f"{f.tiny.image_size} x {f.tiny.image_size} input) in the 3x3/5x5 convolutions on maps of at most "
         f"{f.tiny.largest_map} x {f.tiny.largest_map} (blocks 4a-5b), where most taps multiply padding",
         "the 1x1 convolutions on the same maps",
         f"{f.tiny.share('3x3 and 5x5'):.0%} of the step (1x1s: {f.tiny.share('1x1'):.0%}); "
         f"{f.tiny.padding_share:.0%} of the counted multiply-adds multiply padding. Waste from the small input, "
         "not the post's redundancy between branches, which was not measured"),
        ("gradients still flow unevenly despite the heads", "largest / smallest gradient norm over the layers",
         "BatchNorm network; He initialisation",
         "; ".join(f"{name}: {spread(norms):,.0f}x" for name, norms in g.items())),
        ("no BatchNorm: sensitive to initialisation and learning rate",
         f"learning rates (of {lrs}) at which both seeds' training loss (mean of the last ten steps) ended below "
         f"{LEARNED_BELOW:.2f} after {steps} steps", "the BatchNorm network in the same runs, both initialisations",
         "; ".join(f"{k}: {', '.join(f'{lr:g}' for lr in v) or 'none'}" for k, v in learned_rates(
             [r for r in runs if not r.network.endswith("heads")]).items())),
    ]
    table = ["| the post says | measured | control | result |", "|---|---|---|---|"]
    return "\n".join(table + [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows])
