"""How fast is the data pipeline? Prints load time, loader images/s, and (with --train) whether a worker helps.

    python scripts/bench_data.py            # load time + loader throughput at 32 and 64 px
    python scripts/bench_data.py --train    # + CPU training steps with 0 vs 1 loader worker
"""
import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from inception_nb.data import DataConfig, load_data, load_fashion_mnist  # noqa: E402
from inception_nb.loops import train_step  # noqa: E402


def loader_rate(config: DataConfig, batches: int) -> float:
    loader = load_data(config).train
    it = iter(loader)
    next(it)  # worker start-up is a one-off cost, not throughput
    t, n = time.perf_counter(), 0
    for _ in range(batches):
        n += len(next(it)[0])
    return n / (time.perf_counter() - t)


def train_rate(workers: int, steps: int) -> float:
    # torchvision's GoogLeNet stands in for the package's model: same architecture, same cost per step
    from torchvision.models import googlenet
    model = googlenet(num_classes=10, aux_logits=False, init_weights=False, transform_input=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    it = iter(load_data(DataConfig(image_size=32, channels=3, augment=True, num_workers=workers)).train)
    for i in range(steps + 2):
        if i == 2:  # two warm-up steps
            t = time.perf_counter()
        x, y = next(it)
        train_step(model, x, y, loss_fn, opt)
    return steps * len(x) / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--train", action="store_true", help="also time CPU training with 0 vs 1 worker")
    parser.add_argument("--steps", type=int, default=15)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    t = time.perf_counter()
    images, _ = load_fashion_mnist("train")
    print(f"load full train set ({len(images)} images, checksum + decode): {time.perf_counter() - t:.2f} s")
    for size in (32, 64):
        for workers in (0, 1):
            rate = loader_rate(DataConfig(image_size=size, augment=True, num_workers=workers), args.batches)
            print(f"loader {size} px, augment, batch 128, {workers} workers: {rate:,.0f} images/s")
    if args.train:
        for workers in (0, 1):
            print(f"train step 32 px, 3 channels, {workers} workers: {train_rate(workers, args.steps):,.0f} images/s")


if __name__ == "__main__":
    main()
