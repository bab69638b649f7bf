"""The data pipeline: Fashion-MNIST from the repo's files, image folders, bad inputs, and the sample PNGs."""
import hashlib
import shutil
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from inception_nb import data, paths
from inception_nb.config import DataConfig
from inception_nb.data import (
    FASHION_MNIST_CLASSES, FASHION_MNIST_MEAN, FASHION_MNIST_STD, load_data, load_fashion_mnist,
)
from inception_nb.images import DataError, open_image, preprocess_image
from inception_nb.paths import DATA_ROOT
from inception_nb.paths import REPO_ROOT as ROOT
from inception_nb.data import loader_settings

_CACHE = {}


def _cached_fashion_mnist(split="train", root=None):
    # decoding takes ~0.5 s; the tests that check decoding itself call data.load_fashion_mnist directly
    if root is not None:
        return _real_load(split, root)
    if split not in _CACHE:
        _CACHE[split] = _real_load(split)
    return _CACHE[split]


_real_load = data.load_fashion_mnist


@pytest.fixture(autouse=True)
def _fast_fashion_mnist(monkeypatch):
    monkeypatch.setattr(data, "load_fashion_mnist", _cached_fashion_mnist)


def _unnormalise(x, mean, std):
    return x * torch.tensor(std).view(1, -1, 1, 1) + torch.tensor(mean).view(1, -1, 1, 1)


# ----------------------------------------------------------------------------- Fashion-MNIST files

def test_data_root_is_the_repos_data_folder():
    assert DATA_ROOT == ROOT / "data"
    assert (DATA_ROOT / "fashion-mnist" / "train-images-idx3-ubyte.gz").is_file()


def test_data_and_runs_roots_follow_the_environment_variables(tmp_path, monkeypatch):
    import importlib.util

    import inception_nb.paths as module
    monkeypatch.setenv("INCEPTION_NB_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("INCEPTION_NB_RUNS", str(tmp_path / "r"))
    spec = importlib.util.spec_from_file_location("paths_copy", module.__file__)
    copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copy)  # a fresh copy reads the environment; the real module stays untouched
    assert copy.DATA_ROOT == tmp_path / "d" and copy.RUNS_DIR == tmp_path / "r"
    assert copy.REPO_ROOT == module.REPO_ROOT


def test_fashion_mnist_is_read_from_the_data_root(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "data_roots", lambda: [tmp_path])
    with pytest.raises(DataError, match=str(tmp_path / "fashion-mnist")):
        _real_load("test")


def test_fashion_mnist_decodes_to_uint8_images_and_int64_labels():
    for split, n in (("train", 60000), ("test", 10000)):
        images, labels = _real_load(split)
        assert images.shape == (n, 28, 28) and images.dtype == torch.uint8
        assert labels.shape == (n,) and labels.dtype == torch.int64
        assert torch.bincount(labels).tolist() == [n // 10] * 10  # Fashion-MNIST is exactly balanced
    assert images.float().mean() > 50  # real pictures, not zeros


def test_hard_coded_mean_and_std_match_the_training_pixels():
    images, _ = load_fashion_mnist("train")
    counts = np.bincount(images.numpy().ravel(), minlength=256).astype(np.float64)
    values = np.arange(256) / 255
    mean = (counts * values).sum() / counts.sum()
    std = np.sqrt((counts * (values - mean) ** 2).sum() / counts.sum())
    assert FASHION_MNIST_MEAN == (round(mean, 4),) and FASHION_MNIST_STD == (round(std, 4),)


def test_classes_are_the_ten_fashion_mnist_names_in_label_order():
    assert FASHION_MNIST_CLASSES == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                     "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def test_data_readme_lists_the_checksums_of_the_shipped_files():
    readme = (DATA_ROOT / "fashion-mnist" / "README.md").read_text()
    for name, digest in data._SHA256.items():
        assert hashlib.sha256((DATA_ROOT / "fashion-mnist" / name).read_bytes()).hexdigest() == digest
        assert f"{digest}  {name}" in readme
    assert "Zalando" in (DATA_ROOT / "fashion-mnist" / "LICENSE").read_text()


def test_damaged_file_is_named_with_the_fix(tmp_path):
    for name in data._FASHION_FILES["test"]:
        shutil.copy(DATA_ROOT / "fashion-mnist" / name, tmp_path / name)
    damaged = tmp_path / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(damaged.read_bytes())
    raw[100] ^= 0xFF
    damaged.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz is damaged") as err:
        _real_load("test", root=tmp_path)
    assert str(damaged) in str(err.value) and "git checkout" in str(err.value)


def test_checksum_mismatch_is_detected_even_after_a_good_load(monkeypatch):
    _real_load("test")
    monkeypatch.setitem(data._SHA256, "t10k-images-idx3-ubyte.gz", "0" * 64)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz is damaged"):
        _real_load("test")


def test_checksum_is_computed_once_per_process(monkeypatch):
    _real_load("test")

    def no_more_hashing(*args):
        raise AssertionError("hashed again")
    monkeypatch.setattr(data.hashlib, "sha256", no_more_hashing)
    images, _ = _real_load("test")
    assert len(images) == 10000


def test_missing_files_error_names_the_folder_and_never_downloads(tmp_path):
    with pytest.raises(DataError) as err:
        _real_load("train", root=tmp_path)
    message = str(err.value)
    assert str(tmp_path) in message and "train-images-idx3-ubyte.gz" in message
    assert "nothing is downloaded" in message and list(tmp_path.iterdir()) == []


def test_unknown_split_is_refused():
    with pytest.raises(DataError, match="'train' or 'test'"):
        _real_load("validation")


# ----------------------------------------------------------------------------- Fashion-MNIST loaders

def test_batches_have_the_promised_shape_dtype_and_normalisation():
    bundle = load_data(DataConfig(image_size=32, batch_size=64, limit=256, augment=False))  # resized from 28
    x, y = next(iter(bundle.train))
    assert x.shape == (64, 1, 32, 32) and x.dtype == torch.float32 and x.is_contiguous()
    assert y.shape == (64,) and y.dtype == torch.int64 and 0 <= int(y.min()) and int(y.max()) <= 9
    pixels = _unnormalise(x, bundle.mean, bundle.std)
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5 and pixels.max() > 0.9
    assert bundle.classes == FASHION_MNIST_CLASSES and (bundle.channels, bundle.image_size) == (1, 32)
    assert bundle.mean == FASHION_MNIST_MEAN and bundle.std == FASHION_MNIST_STD


def test_native_size_without_augmentation_is_exactly_the_normalised_test_images():
    bundle = load_data(DataConfig(image_size=data.FASHION_MNIST_SIZE, batch_size=32, limit=200))
    x, y = next(iter(bundle.test))
    images, labels = load_fashion_mnist("test")
    keep = data._limit(labels, 200, 0)[:32]
    expected = (images[keep].float() / 255 - FASHION_MNIST_MEAN[0]) / FASHION_MNIST_STD[0]
    assert torch.allclose(x[:, 0], expected, atol=1e-6) and torch.equal(y, labels[keep])


def test_three_channels_repeat_the_grayscale_channel():
    bundle = load_data(DataConfig(channels=3, image_size=40, batch_size=16, limit=64))
    x, _ = next(iter(bundle.train))
    assert x.shape == (16, 3, 40, 40)
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])
    assert len(bundle.mean) == len(bundle.std) == 3


def test_limit_caps_both_splits_with_every_class_equally():
    bundle = load_data(DataConfig(limit=100, batch_size=10))
    assert bundle.num_train == bundle.num_test == 100
    for loader in (bundle.train, bundle.test):
        assert torch.bincount(loader.dataset.labels).tolist() == [10] * 10


def test_limit_is_seeded():
    labels = load_fashion_mnist("train")[1]
    assert torch.equal(data._limit(labels, 50, seed=0), data._limit(labels, 50, seed=0))
    assert not torch.equal(data._limit(labels, 50, seed=0), data._limit(labels, 50, seed=1))


def test_train_order_is_shuffled_reproducibly_and_test_order_is_fixed():
    def first_batches(seed):
        bundle = load_data(DataConfig(limit=500, batch_size=50, augment=False, seed=seed))
        return next(iter(bundle.train))[1], next(iter(bundle.test))[1], bundle
    train, test, bundle = first_batches(0)
    assert torch.equal(train, first_batches(0)[0]) and not torch.equal(train, first_batches(1)[0])
    assert not torch.equal(train, bundle.train.dataset.labels[:50])
    assert torch.equal(test, bundle.test.dataset.labels[:50]) and torch.equal(test, next(iter(bundle.test))[1])


def test_train_drops_the_last_partial_batch_but_test_keeps_every_image():
    bundle = load_data(DataConfig(limit=100, batch_size=30))
    assert [len(x) for x, _ in bundle.train] == [30, 30, 30]
    assert sum(len(x) for x, _ in bundle.test) == 100


def test_augmentation_changes_train_images_but_not_test_images():
    bundle = load_data(DataConfig(image_size=data.FASHION_MNIST_SIZE, limit=64, batch_size=16, augment=True))
    plain = data.ImageBatches(bundle.train.dataset.images, bundle.train.dataset.labels, 28, 1,
                              bundle.mean, bundle.std, augment=False)
    batch = list(range(16))
    torch.manual_seed(0)
    first = bundle.train.dataset.__getitems__(batch)[0]
    second = bundle.train.dataset.__getitems__(batch)[0]
    assert not torch.equal(first, plain.__getitems__(batch)[0]) and not torch.equal(first, second)
    assert torch.equal(bundle.test.dataset.__getitems__(batch)[0], bundle.test.dataset.__getitems__(batch)[0])
    test_plain = (bundle.test.dataset.images[:16, 0].float() / 255 - bundle.mean[0]) / bundle.std[0]
    assert torch.allclose(bundle.test.dataset.__getitems__(batch)[0][:, 0], test_plain, atol=1e-6)


def test_augmentation_is_a_crop_padded_by_an_eighth_of_the_size_with_an_optional_flip():
    images, labels = load_fashion_mnist("test")
    args = (images[:64].unsqueeze(1), labels[:64], 16, 1, (0.0,), (1.0,))
    plain = data.ImageBatches(*args, augment=False).__getitems__(list(range(64)))[0]
    torch.manual_seed(1)
    augmented = data.ImageBatches(*args, augment=True).__getitems__(list(range(64)))[0]
    padded = torch.nn.functional.pad(plain, (2, 2, 2, 2))  # 16 // 8 = 2, zero = black background
    flips = 0
    for original, out in zip(padded, augmented):
        candidates = [flip for dy in range(5) for dx in range(5) for flip in (False, True)
                      if torch.equal(original[:, dy:dy + 16, dx:dx + 16].flip(-1) if flip
                                     else original[:, dy:dy + 16, dx:dx + 16], out)]
        assert candidates, "augmented image is not a crop of the padded original"
        flips += all(candidates)
    assert 10 < flips < 54  # about half are flipped


def test_batch_size_larger_than_the_training_set_names_both_numbers_and_the_fix():
    with pytest.raises(DataError) as err:
        load_data(DataConfig(limit=50, batch_size=64))
    message = str(err.value)
    assert "64" in message and "50" in message
    assert "DataConfig.batch_size" in message and "DataConfig.limit" in message and "--" not in message


def test_image_size_below_the_models_minimum_names_both_and_the_fix():
    with pytest.raises(DataError) as err:
        load_data(DataConfig(image_size=16), min_size=32)
    message = str(err.value)
    assert "16" in message and "32" in message and "set DataConfig.image_size to 32" in message


def test_bad_channel_count_is_refused():
    with pytest.raises(DataError, match="DataConfig.channels must be 1 or 3"):
        load_data(DataConfig(channels=2))


def test_loader_settings_suit_the_device():
    assert loader_settings("cpu") == {"num_workers": 0, "pin_memory": False, "persistent_workers": False}
    cuda = loader_settings(torch.device("cuda"))
    assert cuda["num_workers"] >= 1 and cuda["pin_memory"] and cuda["persistent_workers"]


def test_num_workers_override_reaches_the_loaders():
    bundle = load_data(DataConfig(limit=64, batch_size=32, num_workers=1))
    assert bundle.train.num_workers == bundle.test.num_workers == 1
    assert [len(x) for x, _ in bundle.train] == [32, 32]  # a worker process builds batches too


def test_distributed_loaders_shard_with_a_distributed_sampler(tmp_path):
    import torch.distributed as dist
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    try:
        bundle = load_data(DataConfig(limit=100, batch_size=25, seed=3), distributed=True)
    finally:
        dist.destroy_process_group()
    assert isinstance(bundle.train.sampler, torch.utils.data.DistributedSampler)
    assert bundle.train.sampler.shuffle and bundle.train.sampler.seed == 3
    assert isinstance(bundle.test.sampler, torch.utils.data.DistributedSampler) and not bundle.test.sampler.shuffle
    assert sum(len(x) for x, _ in bundle.test) == 100


def test_dataset_path_that_does_not_exist_is_named():
    with pytest.raises(DataError, match="does not exist") as err:
        load_data(DataConfig(dataset="/no/such/folder"))
    assert "/no/such/folder" in str(err.value) and "fashion-mnist" in str(err.value)


# ----------------------------------------------------------------------------- image folders

def _image(mode, size, seed):
    rng = np.random.default_rng(seed)
    w, h = size
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (h, w)).astype(np.uint16))
    rgb = Image.fromarray(rng.integers(0, 256, (h, w, 3)).astype(np.uint8))
    return rgb.convert("P", palette=Image.ADAPTIVE) if mode == "P" else rgb.convert(mode)


# (mode, file suffix) pairs covering every format a student's folder may mix
FORMATS = [("RGB", ".jpg"), ("RGBA", ".png"), ("L", ".png"), ("P", ".gif"), ("I;16", ".png"),
           ("CMYK", ".jpg"), ("CMYK", ".tif"), ("LA", ".png"), ("1", ".bmp"), ("RGB", ".webp"), ("RGB", ".JPEG")]


def _make_folder(root, classes=("cat", "dog"), per_class=6):
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            mode, suffix = FORMATS[(i + c) % len(FORMATS)]
            _image(mode, (8 + 7 * i % 32, 8 + 5 * i % 32), seed=100 * c + i).save(root / name / f"{i}{suffix}")
    return root


def test_folder_of_mixed_modes_and_sizes_gives_uniform_batches(tmp_path):
    root = _make_folder(tmp_path / "pets", per_class=len(FORMATS))
    for channels in (1, 3):
        bundle = load_data(DataConfig(dataset=str(root), image_size=24, channels=channels, batch_size=4,
                                      val_fraction=0.2))
        batches = list(bundle.train) + list(bundle.test)
        assert sum(len(y) for _, y in batches) == bundle.num_train - bundle.num_train % 4 + bundle.num_test
        for x, y in batches:
            assert x.shape[1:] == (channels, 24, 24) and x.dtype == torch.float32 and torch.isfinite(x).all()
        assert bundle.classes == ["cat", "dog"] and bundle.num_train + bundle.num_test == 2 * len(FORMATS)
        expected = data.IMAGENET_MEAN if channels == 3 else data.IMAGENET_GRAY_MEAN
        assert bundle.mean == expected and len(bundle.std) == channels


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "I;16", "CMYK", "1", "F", "YCbCr"])
def test_preprocess_accepts_every_mode_and_any_size(mode):
    image = _image("L", (30, 17), 0).convert("F") if mode == "F" else _image(mode, (30, 17), 0)
    for channels, mean, std in ((1, (0.5,), (0.5,)), (3, (0.5,) * 3, (0.5,) * 3)):
        x = preprocess_image(image, 20, channels, mean, std)
        assert x.shape == (channels, 20, 20) and x.dtype == torch.float32
        assert -1 - 1e-6 <= x.min() and x.max() <= 1 + 1e-6


@pytest.mark.parametrize("size", [20, 32, 64])
def test_preprocess_matches_the_fashion_mnist_pipeline_for_the_sample_images(size):
    images, labels = load_fashion_mnist("test")
    pipeline = data.ImageBatches(images[:1].unsqueeze(1), labels[:1], size, 1, FASHION_MNIST_MEAN,
                                 FASHION_MNIST_STD, augment=False)[0][0]
    sample = preprocess_image(open_image(DATA_ROOT / "samples" / "9_Ankle-boot.png"), size, 1,
                              FASHION_MNIST_MEAN, FASHION_MNIST_STD)  # test image 0 is an ankle boot
    assert sample.shape == pipeline.shape == (1, size, size)
    assert (sample - pipeline).abs().max() * FASHION_MNIST_STD[0] <= 1 / 255  # PIL rounds to 8 bits


def test_folder_images_are_preprocessed_exactly_like_a_single_prediction(tmp_path):
    root = _make_folder(tmp_path / "pets", per_class=len(FORMATS))
    bundle = load_data(DataConfig(dataset=str(root), image_size=24, channels=3, batch_size=2, val_fraction=0.3))
    for i, path in enumerate(bundle.test.dataset.images.paths):
        single = preprocess_image(open_image(path), 24, 3, bundle.mean, bundle.std)
        assert torch.allclose(bundle.test.dataset[i][0], single, atol=1e-6), path.name


def test_dataset_may_be_given_as_a_path(tmp_path):
    root = _make_folder(tmp_path / "pets")
    assert load_data(DataConfig(dataset=root, batch_size=2)).classes == ["cat", "dog"]


def test_sixteen_bit_images_are_scaled_not_clipped():
    gray = Image.fromarray(np.full((10, 10), 32896, dtype=np.uint16))  # 32896 = 128 * 257, mid-gray
    x = preprocess_image(gray, 10, 1, (0.0,), (1.0,))
    assert torch.allclose(x, torch.full_like(x, 128 / 255))


def test_transparent_pixels_become_white():
    image = Image.new("RGBA", (6, 6), (0, 0, 0, 0))
    image.putpixel((0, 0), (255, 0, 0, 255))
    x = preprocess_image(image, 6, 3, (0.0,) * 3, (1.0,) * 3)
    assert torch.equal(x[:, 5, 5], torch.ones(3)) and torch.equal(x[:, 0, 0], torch.tensor([1.0, 0, 0]))


def test_open_image_honours_exif_rotation(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display", as phones write it
    _image("RGB", (40, 20), 0).save(tmp_path / "phone.jpg", exif=exif)
    assert open_image(tmp_path / "phone.jpg").size == (20, 40)


def test_junk_files_are_skipped_with_one_warning_listing_them(tmp_path):
    root = _make_folder(tmp_path / "pets")
    junk = [root / "cat" / ".DS_Store", root / "dog" / "Thumbs.db", root / "dog" / "notes.txt",
            root / "cat" / "._0.jpg"]
    for path in junk:
        path.write_bytes(b"not an image")
    (root / "cat" / ".ipynb_checkpoints").mkdir()
    _image("RGB", (9, 9), 0).save(root / "cat" / ".ipynb_checkpoints" / "0-checkpoint.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bundle = load_data(DataConfig(dataset=str(root), batch_size=2))
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(messages) == 1 and all(str(path) in messages[0] for path in junk)
    assert bundle.num_train + bundle.num_test == 12


def test_file_that_is_not_an_image_is_named_when_loading(tmp_path):
    root = _make_folder(tmp_path / "pets")
    bad = root / "dog" / "broken.png"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match="broken.png") as err:
        load_data(DataConfig(dataset=str(root), batch_size=2))
    assert str(bad) in str(err.value) and "corrupt" in str(err.value)


@pytest.mark.parametrize("num_workers", [0, 1])
def test_truncated_image_is_named_even_from_a_worker(tmp_path, num_workers):
    root = _make_folder(tmp_path / "pets")
    _image("RGB", (64, 64), 0).save(tmp_path / "full.jpg")
    jpeg = (tmp_path / "full.jpg").read_bytes()
    (root / "cat" / "truncated.jpg").write_bytes(jpeg[: len(jpeg) * 3 // 4])  # header intact, pixels cut short
    bundle = load_data(DataConfig(dataset=str(root), batch_size=2, val_fraction=0.5, num_workers=num_workers))
    with pytest.raises(DataError, match="truncated.jpg"):
        for loader in (bundle.train, bundle.test):
            list(loader)


def test_open_image_names_missing_and_corrupt_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        open_image(tmp_path / "nope.png")
    (tmp_path / "bad.jpg").write_text("hello")
    with pytest.raises(DataError, match="bad.jpg"):
        open_image(tmp_path / "bad.jpg")


def test_train_and_test_subfolders_are_used_as_the_split(tmp_path):
    _make_folder(tmp_path / "pets" / "train", classes=("dog", "cat"), per_class=5)
    _make_folder(tmp_path / "pets" / "test", classes=("dog", "cat"), per_class=2)
    bundle = load_data(DataConfig(dataset=str(tmp_path / "pets"), batch_size=4))
    assert (bundle.num_train, bundle.num_test) == (10, 4) and bundle.classes == ["cat", "dog"]  # sorted names
    assert all(p.parts[-3] == "test" for p in bundle.test.dataset.images.paths)
    for split in (bundle.train.dataset, bundle.test.dataset):
        assert [bundle.classes[y] for y in split.labels] == [p.parent.name for p in split.images.paths]


def test_val_subfolder_serves_as_the_test_split(tmp_path):
    _make_folder(tmp_path / "pets" / "train", per_class=5)
    _make_folder(tmp_path / "pets" / "val", classes=("dog",), per_class=3)
    bundle = load_data(DataConfig(dataset=str(tmp_path / "pets"), batch_size=4))
    assert bundle.num_test == 3 and bundle.test.dataset.labels.tolist() == [1, 1, 1]


def test_test_class_missing_from_train_is_named(tmp_path):
    _make_folder(tmp_path / "pets" / "train")
    _make_folder(tmp_path / "pets" / "test", classes=("cat", "fox"))
    with pytest.raises(DataError, match="fox"):
        load_data(DataConfig(dataset=str(tmp_path / "pets"), batch_size=2))


def test_validation_split_is_stratified_seeded_and_deterministic(tmp_path):
    root = tmp_path / "shapes"
    for name, n in (("circle", 20), ("square", 7), ("star", 2), ("zig", 1)):
        (root / name).mkdir(parents=True)
        for i in range(n):
            _image("L", (8, 8), i).save(root / name / f"{i}.png")

    def split(seed):
        bundle = load_data(DataConfig(dataset=str(root), batch_size=2, seed=seed))
        return bundle.train.dataset.images.paths, bundle.test.dataset.images.paths, bundle

    train, val, bundle = split(0)
    assert split(0)[:2] == (train, val) and split(1)[1] != val
    assert not set(train) & set(val)
    assert torch.bincount(bundle.test.dataset.labels, minlength=4).tolist() == [2, 1, 1, 0]  # 10 %, at least 1
    assert torch.bincount(bundle.train.dataset.labels).tolist() == [18, 6, 1, 1]  # a lone image stays in train


def test_limit_applies_to_image_folders(tmp_path):
    root = _make_folder(tmp_path / "pets", per_class=10)
    bundle = load_data(DataConfig(dataset=str(root), batch_size=2, limit=4, val_fraction=0.5))
    assert bundle.num_train == bundle.num_test == 4
    assert torch.bincount(bundle.train.dataset.labels).tolist() == [2, 2]


def test_folder_without_class_folders_explains_the_layout(tmp_path):
    _image("RGB", (8, 8), 0).save(tmp_path / "loose.jpg")
    with pytest.raises(DataError, match="no class folders") as err:
        load_data(DataConfig(dataset=str(tmp_path)))
    assert str(tmp_path) in str(err.value) and "one sub-folder per class" in str(err.value)


def test_class_folder_without_images_is_named(tmp_path):
    root = _make_folder(tmp_path / "pets")
    (root / "empty").mkdir()
    (root / "empty" / "readme.txt").write_text("todo")
    with pytest.raises(DataError, match="has no images") as err:
        load_data(DataConfig(dataset=str(root)))
    assert str(root / "empty") in str(err.value)


def test_single_class_folder_is_refused(tmp_path):
    root = _make_folder(tmp_path / "pets", classes=("cat",))
    with pytest.raises(DataError, match="only one class folder"):
        load_data(DataConfig(dataset=str(root), batch_size=2))


def test_dataset_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "pets.zip").write_bytes(b"PK")
    with pytest.raises(DataError, match="unzip"):
        load_data(DataConfig(dataset=str(tmp_path / "pets.zip")))


# ----------------------------------------------------------------------------- sample PNGs

def test_samples_are_one_test_image_per_class_never_a_training_image():
    test_images, test_labels = load_fashion_mnist("test")
    test_classes = {}  # image bytes -> classes of the test images with exactly those pixels
    for image, label in zip(test_images.numpy(), test_labels.tolist()):
        test_classes.setdefault(image.tobytes(), set()).add(label)
    train_pixels = {image.tobytes() for image in load_fashion_mnist("train")[0].numpy()}
    files = sorted((DATA_ROOT / "samples").glob("*.png"))
    assert [f.name for f in files] == [f"{i}_{c.replace('/', '-').replace(' ', '-')}.png"
                                       for i, c in enumerate(FASHION_MNIST_CLASSES)]
    for label, path in enumerate(files):
        image = Image.open(path)
        assert image.mode == "L" and image.size == (28, 28)
        pixels = np.array(image).tobytes()
        assert test_classes.get(pixels) == {label}, f"{path.name} is not a test image of its class"
        assert pixels not in train_pixels, f"{path.name} is in the training set"
