"""Run by tests/test_engine.py under torchrun: the CLI's train, then each rank fingerprints its weights."""

import hashlib
import os
import sys
from pathlib import Path

import inception_nb.training.fit as fit_module
from inception_nb.cli import main

out = Path(sys.argv[1])
trained = {}
real_fit = fit_module.fit


def recording_fit(model, *args, **kwargs):
    history = real_fit(model, *args, **kwargs)
    trained["model"] = model
    return history


fit_module.fit = recording_fit  # cli imports fit at call time, so it picks this wrapper up
code = main(["train", "--data", "fashion-mnist", "--limit", "256", "--epochs", "1", "--batch-size", "32",
             "--image-size", "32", "--device", "cpu", "--out", str(out / "run"), "--json"])
digest = hashlib.sha256()
for name, tensor in sorted(trained["model"].state_dict().items()):
    digest.update(name.encode())
    digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
out.mkdir(parents=True, exist_ok=True)
(out / f"rank{os.environ['RANK']}.sha").write_text(digest.hexdigest())
sys.exit(code)
