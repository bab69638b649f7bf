"""Write data/samples/<class>_<name>.png: the first TEST image of each Fashion-MNIST class, native 28x28 grayscale.

Test images only, so a prediction demo on these files never shows the model an image it trained on.
Deterministic: rerunning rewrites byte-identical files.
"""
import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from inception_nb.data import DATA_ROOT, FASHION_MNIST_CLASSES, load_fashion_mnist  # noqa: E402


def sample_name(label: int) -> str:
    """Return the file name of the sample for a class, e.g. 0_T-shirt-top.png."""
    return f"{label}_{FASHION_MNIST_CLASSES[label].replace('/', '-').replace(' ', '-')}.png"


def main() -> None:
    images, labels = load_fashion_mnist("test")
    out = DATA_ROOT / "samples"
    out.mkdir(parents=True, exist_ok=True)
    for label in range(len(FASHION_MNIST_CLASSES)):
        first = int((labels == label).nonzero()[0])
        Image.fromarray(images[first].numpy()).save(out / sample_name(label))
        print(f"{out / sample_name(label)}  (test image {first})")


if __name__ == "__main__":
    main()
