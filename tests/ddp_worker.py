"""Run by tests/test_engine.py under torchrun: the CLI's train, then each rank fingerprints its weights."""

import hashlib
import os
import sys
from pathlib import Path

import inception_nb.cli as cli

out = Path(sys.argv[1])
trained = {}
real_fit = cli.fit


def recording_fit(model, *args, **kwargs):
    history = real_fit(model, *args, **kwargs)
    trained["model"] = model
    return history


cli.fit = recording_fit  # the CLI calls fit by the name it imported, so it finds this wrapper
code = cli.main(["train", "--data", "fashion-mnist", "--limit", "256", "--epochs", "1", "--batch-size", "32",
                "--image-size", "32", "--device", "cpu", "--out", str(out / "run"), "--json"])
digest = hashlib.sha256()
for name, tensor in sorted(trained["model"].state_dict().items()):
    digest.update(name.encode())
    digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
out.mkdir(parents=True, exist_ok=True)
(out / f"rank{os.environ['RANK']}.sha").write_text(digest.hexdigest())
sys.exit(code)
