"""Write data/samples/<class>_<name>.png: the first TEST image of each Fashion-MNIST class, native 28x28 grayscale.

Test images only, so a prediction demo on these files never shows the model an image it trained on.
Deterministic: rerunning rewrites byte-identical files. Also writes data/photos/: two larger colour
JPEGs (a tinted, upscaled test image each) that stand in for a student's own photo in notebook 04.
"""
import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from inception_nb.data import FASHION_MNIST_CLASSES, load_fashion_mnist  # noqa: E402
from inception_nb.paths import DATA_ROOT  # noqa: E402


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
    write_photos(images, labels)


def write_photos(images, labels) -> None:
    """Write colour, larger-than-28-pixel stand-ins for photos: the second test image of two classes."""
    out = DATA_ROOT / "photos"
    out.mkdir(parents=True, exist_ok=True)
    for label, tint, size in ((7, (255, 140, 60), (300, 260)), (8, (90, 160, 255), (420, 420))):
        second = int((labels == label).nonzero()[1])
        gray = Image.fromarray(images[second].numpy()).resize(size, Image.BICUBIC)
        colour = Image.merge("RGB", [gray.point(lambda v, c=c: v * c // 255) for c in tint])
        name = f"{FASHION_MNIST_CLASSES[label].lower()}_colour.jpg"
        colour.save(out / name, quality=90)
        print(f"{out / name}  (test image {second}, {size[0]}x{size[1]} RGB)")


if __name__ == "__main__":
    main()
