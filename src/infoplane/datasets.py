"""Data sets for the experiments, each split into train and test parts.

Shipped with the package (no path needed):

- ``"szt"``: the 12-bit task of Shwartz-Ziv and Tishby (2017), 4096 binary patterns, 2 classes.
- ``"mnist10k"``: the MNIST test set (10,000 images of 28 x 28), split by a seeded permutation.
- ``"digits"``: scikit-learn's 8 x 8 digits (1,797 images), split by a seeded permutation.

Read from a folder the user supplies with ``path=``:

- ``"mnist"`` and ``"fashion-mnist"``: the four standard IDX files, gzip-compressed or not.
- ``"cifar10"``: the binary version of CIFAR-10 (``data_batch_1.bin`` ... ``test_batch.bin``).
  The Python version stores pickles, which infoplane never loads.

Every loader returns a :class:`Dataset` whose inputs are float32 in [0, 1] with
shape ``(n_samples, *input_shape)``, images channels first, and whose labels are
int64 class indices.
"""

from __future__ import annotations

import gzip
import inspect
import logging
import math
import numbers
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import scipy.io

logger = logging.getLogger(__name__)

IDX_IMAGE_MAGIC = 2051
IDX_LABEL_MAGIC = 2049
# Third byte of an IDX magic number -> element type; multi-byte types are big-endian.
IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"
IDX_TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
IDX_TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
N_IMAGE_CLASSES = 10
MAX_PIXEL_BYTE = 255.0
MAX_DIGITS_PIXEL = 16.0

CIFAR10_IMAGE_SHAPE = (3, 32, 32)
CIFAR10_RECORD_BYTES = 1 + math.prod(CIFAR10_IMAGE_SHAPE)
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{index}.bin" for index in range(1, 6))
CIFAR10_TEST_FILE = "test_batch.bin"
CIFAR10_ARCHIVE_FOLDER = "cifar-10-batches-bin"

DEFAULT_TRAIN_FRACTION = 0.8


@dataclass(frozen=True)
class Dataset:
    """A classification data set split into train and test parts.

    ``x_train`` and ``x_test`` are float32 arrays of shape ``(n_samples, *input_shape)``
    with values in [0, 1]; ``y_train`` and ``y_test`` are int64 labels of shape
    ``(n_samples,)`` in ``0 .. n_classes - 1``.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input sample, e.g. ``(12,)`` or ``(1, 28, 28)``."""
        return tuple(self.x_train.shape[1:])


def _shipped_file(name: str) -> Path:
    return Path(str(resources.files("infoplane") / "data" / name))


def _check_split_arguments(train_fraction: float, seed: int) -> None:
    if isinstance(train_fraction, bool) or not isinstance(train_fraction, numbers.Real):
        raise TypeError(f"train_fraction must be a number between 0 and 1, got {train_fraction!r}")
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must lie strictly between 0 and 1, got {train_fraction}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def split_train_test(x: np.ndarray, y: np.ndarray, train_fraction: float, seed: int):
    """Split ``(x, y)`` into train and test parts by a seeded permutation.

    Parameters
    ----------
    x : numpy.ndarray, shape (n_samples, ...)
        Inputs.
    y : numpy.ndarray, shape (n_samples,)
        Labels.
    train_fraction : float
        Fraction of the samples, strictly between 0 and 1, that go to the train part
        (rounded to the nearest count).
    seed : int
        Seed of the permutation; the same seed gives the same split.

    Returns
    -------
    tuple of numpy.ndarray
        ``(x_train, y_train, x_test, y_test)``, each part in the permuted order.
    """
    _check_split_arguments(train_fraction, seed)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same number of samples, got {len(x)} and {len(y)}")

    order = np.random.default_rng(seed).permutation(len(x))
    n_train = int(round(train_fraction * len(x)))
    if n_train == 0 or n_train == len(x):
        raise ValueError(f"train_fraction={train_fraction} leaves an empty part of {len(x)} samples")
    train, test = order[:n_train], order[n_train:]
    return x[train], y[train], x[test], y[test]


def load_szt(train_fraction: float = DEFAULT_TRAIN_FRACTION, seed: int = 0) -> Dataset:
    """Load the 12-bit task of Shwartz-Ziv and Tishby (2017): 4096 binary patterns, 2 classes.

    Inputs have shape ``(12,)`` with values 0 or 1.
    """
    mat = scipy.io.loadmat(_shipped_file("var_u.mat"))
    x = np.asarray(mat["F"], dtype=np.float32)
    y = np.asarray(mat["y"], dtype=np.int64).ravel()
    return Dataset("szt", *split_train_test(x, y, train_fraction, seed), n_classes=2)


def load_digits(train_fraction: float = DEFAULT_TRAIN_FRACTION, seed: int = 0) -> Dataset:
    """Load scikit-learn's digits: 1,797 images of 8 x 8 pixels, 10 classes.

    Pixel values 0..16 are divided by 16, so inputs of shape ``(1, 8, 8)`` lie in [0, 1].
    """
    # Imported on first use, so that importing infoplane does not import scikit-learn.
    from sklearn.datasets import load_digits as sklearn_load_digits

    bunch = sklearn_load_digits()
    x = (bunch.images / MAX_DIGITS_PIXEL).astype(np.float32)[:, None, :, :]
    y = np.asarray(bunch.target, dtype=np.int64)
    return Dataset("digits", *split_train_test(x, y, train_fraction, seed), n_classes=N_IMAGE_CLASSES)


def _read_file_bytes(path: Path) -> bytes:
    """Return the content of ``path``, decompressed when it starts with the gzip magic number."""
    with open(path, "rb") as handle:
        compressed = handle.read(len(GZIP_MAGIC)) == GZIP_MAGIC
    if not compressed:
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise ValueError(f"{path} is a truncated or damaged gzip file ({error}); download it again") from error


def _parse_idx(raw: bytes, path: Path) -> np.ndarray:
    """Decode the bytes of an IDX file: magic number, one big-endian uint32 per dimension, data."""
    if len(raw) < 4:
        raise ValueError(f"{path} is truncated: {len(raw)} bytes, fewer than the 4 of an IDX magic number")
    type_code, n_dims = raw[2], raw[3]
    if raw[:2] != b"\x00\x00" or type_code not in IDX_DTYPES:
        raise ValueError(
            f"{path} is not an IDX file: magic number 0x{raw[:4].hex()} should start with two zero bytes "
            f"and a type code in {{{', '.join(f'0x{code:02x}' for code in IDX_DTYPES)}}}"
        )

    header_size = 4 + 4 * n_dims
    if len(raw) < header_size:
        raise ValueError(f"{path} is truncated: {len(raw)} bytes, fewer than its {header_size}-byte header")
    shape = tuple(int.from_bytes(raw[4 + 4 * axis : 8 + 4 * axis], "big") for axis in range(n_dims))
    dtype = IDX_DTYPES[type_code]
    expected = header_size + math.prod(shape) * dtype.itemsize
    if len(raw) < expected:
        raise ValueError(
            f"{path} is truncated: {len(raw)} bytes, but its header (shape {shape}, {dtype.name}) needs {expected}"
        )
    if len(raw) > expected:
        raise ValueError(
            f"{path} has {len(raw) - expected} bytes more than its header (shape {shape}, {dtype.name}) describes"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file, gzip-compressed or not, into an array of the type its header names.

    Parameters
    ----------
    path : str or pathlib.Path
        The file. Compression is recognised from the content, not the file name.

    Returns
    -------
    numpy.ndarray
        The array, with the shape of the header and native byte order
        (uint8 for the MNIST files).

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    ValueError
        If the magic number is wrong, or the file is shorter or longer than its header describes.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    return _parse_idx(_read_file_bytes(path), path)


def _to_unit_float(pixels: np.ndarray) -> np.ndarray:
    """Scale uint8 pixels to float32 in [0, 1] without a float64 intermediate."""
    scaled = pixels.astype(np.float32)
    scaled /= MAX_PIXEL_BYTE
    return scaled


def _check_labels(labels: np.ndarray, n_classes: int, source: Path) -> None:
    outside = np.flatnonzero((labels < 0) | (labels >= n_classes))
    if outside.size:
        index = int(outside[0])
        raise ValueError(
            f"{source} contains {outside.size} labels outside 0..{n_classes - 1}, "
            f"the first {labels[index]} at index {index}; the file is damaged or from another data set"
        )


def _check_folder(path: str | Path, name: str) -> Path:
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"folder for data set {name!r} not found: {folder}; pass path= a folder containing {DISK_CONTENTS[name]}"
        )
    return folder


def _find_idx_file(folder: Path, stem: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"IDX file not found: expected {stem} or {stem}.gz in {folder}")


def _read_idx_images(folder: Path, stem: str) -> tuple[np.ndarray, Path]:
    path = _find_idx_file(folder, stem)
    images = read_idx(path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{path} should contain unsigned-byte images of shape (n_images, height, width) "
            f"(IDX magic number {IDX_IMAGE_MAGIC}), got {images.dtype.name} of shape {images.shape}"
        )
    return images, path


def _read_idx_labels(folder: Path, stem: str) -> tuple[np.ndarray, Path]:
    path = _find_idx_file(folder, stem)
    labels = read_idx(path)
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise ValueError(
            f"{path} should contain unsigned-byte labels of shape (n_images,) "
            f"(IDX magic number {IDX_LABEL_MAGIC}), got {labels.dtype.name} of shape {labels.shape}"
        )
    _check_labels(labels, N_IMAGE_CLASSES, path)
    return labels, path


def _read_idx_part(folder: Path, stems: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Read one part (train or test) from its images and labels files; images become ``(n, 1, h, w)``."""
    images, images_path = _read_idx_images(folder, stems[0])
    labels, labels_path = _read_idx_labels(folder, stems[1])
    if len(images) != len(labels):
        raise ValueError(
            f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels; "
            "both files must come from the same release"
        )
    logger.info("read %d images of %d x %d from %s", *images.shape, images_path)
    return _to_unit_float(images)[:, None, :, :], labels.astype(np.int64)


def _dataset_from_parts(name, train, test, train_fraction, seed) -> Dataset:
    """Keep the files' own train/test parts, or pool them and split by ``train_fraction``."""
    if train[0].shape[1:] != test[0].shape[1:]:
        raise ValueError(
            f"train and test images of data set {name!r} differ in shape: "
            f"{train[0].shape[1:]} and {test[0].shape[1:]}; the files must come from the same release"
        )
    if train_fraction is None:
        return Dataset(name, train[0], train[1], test[0], test[1], n_classes=N_IMAGE_CLASSES)

    _check_split_arguments(train_fraction, seed)
    x = np.concatenate([train[0], test[0]])
    y = np.concatenate([train[1], test[1]])
    return Dataset(name, *split_train_test(x, y, train_fraction, seed), n_classes=N_IMAGE_CLASSES)


def _load_idx_dataset(name: str, path, train_fraction, seed) -> Dataset:
    folder = _check_folder(path, name)
    train = _read_idx_part(folder, IDX_TRAIN_FILES)
    test = _read_idx_part(folder, IDX_TEST_FILES)
    return _dataset_from_parts(name, train, test, train_fraction, seed)


def load_mnist(path: str | Path, train_fraction: float | None = None, seed: int = 0) -> Dataset:
    """Load full MNIST (60,000 train and 10,000 test images) from IDX files in a folder.

    Parameters
    ----------
    path : str or pathlib.Path
        Folder containing ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each optionally
        with ``.gz`` appended.
    train_fraction : float, optional
        None keeps the files' own train and test parts. A number pools both parts
        and splits them by a permutation seeded with ``seed``.
    seed : int
        Seed of that permutation; unused when ``train_fraction`` is None.

    Returns
    -------
    Dataset
        Inputs of shape ``(1, height, width)`` with values in [0, 1], 10 classes.
    """
    return _load_idx_dataset("mnist", path, train_fraction, seed)


def load_fashion_mnist(path: str | Path, train_fraction: float | None = None, seed: int = 0) -> Dataset:
    """Load Fashion-MNIST from IDX files in a folder; the files and parameters are those of :func:`load_mnist`."""
    return _load_idx_dataset("fashion-mnist", path, train_fraction, seed)


def _read_cifar10_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one binary CIFAR-10 batch: records of 1 label byte and 3072 pixel bytes (R, G, B planes)."""
    if not path.is_file():
        pickle_version = path.with_suffix("")
        hint = (
            f"; {pickle_version.name} there is the Python (pickle) version, which infoplane does not read"
            if pickle_version.is_file()
            else ""
        )
        raise FileNotFoundError(
            f"CIFAR-10 file not found: {path}; the binary version (cifar-10-binary.tar.gz) contains "
            f"{', '.join(CIFAR10_TRAIN_FILES)} and {CIFAR10_TEST_FILE}{hint}"
        )

    raw = path.read_bytes()
    if not raw or len(raw) % CIFAR10_RECORD_BYTES:
        raise ValueError(
            f"{path} is truncated or not a binary CIFAR-10 batch: {len(raw)} bytes is not a positive multiple "
            f"of the {CIFAR10_RECORD_BYTES}-byte record (1 label byte and {CIFAR10_RECORD_BYTES - 1} pixel bytes)"
        )
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, CIFAR10_RECORD_BYTES)
    labels = records[:, 0]
    _check_labels(labels, N_IMAGE_CLASSES, path)
    images = records[:, 1:].reshape(-1, *CIFAR10_IMAGE_SHAPE)
    return images, labels.astype(np.int64)


def _read_cifar10_part(folder: Path, file_names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    batches = [_read_cifar10_batch(folder / file_name) for file_name in file_names]
    images = np.concatenate([batch[0] for batch in batches])
    labels = np.concatenate([batch[1] for batch in batches])
    logger.info("read %d CIFAR-10 images from %s", len(images), ", ".join(file_names))
    return _to_unit_float(images), labels


def load_cifar10(path: str | Path, train_fraction: float | None = None, seed: int = 0) -> Dataset:
    """Load CIFAR-10 (50,000 train and 10,000 test images) from its binary version.

    Parameters
    ----------
    path : str or pathlib.Path
        Folder containing ``data_batch_1.bin`` ... ``data_batch_5.bin`` and
        ``test_batch.bin``, or the folder into which ``cifar-10-binary.tar.gz``
        was unpacked (it contains ``cifar-10-batches-bin``).
    train_fraction : float, optional
        None keeps the files' own train and test parts. A number pools both parts
        and splits them by a permutation seeded with ``seed``.
    seed : int
        Seed of that permutation; unused when ``train_fraction`` is None.

    Returns
    -------
    Dataset
        Inputs of shape ``(3, 32, 32)`` (red, green, blue planes) with values in [0, 1], 10 classes.
    """
    folder = _check_folder(path, "cifar10")
    if not (folder / CIFAR10_TRAIN_FILES[0]).exists() and (folder / CIFAR10_ARCHIVE_FOLDER).is_dir():
        folder = folder / CIFAR10_ARCHIVE_FOLDER
    train = _read_cifar10_part(folder, CIFAR10_TRAIN_FILES)
    test = _read_cifar10_part(folder, (CIFAR10_TEST_FILE,))
    return _dataset_from_parts("cifar10", train, test, train_fraction, seed)


def load_mnist_test(train_fraction: float = DEFAULT_TRAIN_FRACTION, seed: int = 0) -> Dataset:
    """Load the shipped MNIST test set (10,000 images) and split it into its own train and test parts.

    Inputs have shape ``(1, 28, 28)`` with values in [0, 1].
    """
    images = read_idx(_shipped_file("t10k-images-idx3-ubyte.gz"))
    labels = read_idx(_shipped_file("t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    x = _to_unit_float(images)[:, None, :, :]
    return Dataset("mnist10k", *split_train_test(x, labels, train_fraction, seed), n_classes=N_IMAGE_CLASSES)


LOADERS = {
    "szt": load_szt,
    "mnist10k": load_mnist_test,
    "digits": load_digits,
    "mnist": load_mnist,
    "fashion-mnist": load_fashion_mnist,
    "cifar10": load_cifar10,
}
# Files required in the folder given as path=, for each data set read from disk.
_IDX_CONTENTS = "the IDX files " + ", ".join(f"{stem}[.gz]" for stem in IDX_TRAIN_FILES + IDX_TEST_FILES)
DISK_CONTENTS = {
    "mnist": _IDX_CONTENTS,
    "fashion-mnist": _IDX_CONTENTS,
    "cifar10": f"the binary CIFAR-10 files {', '.join(CIFAR10_TRAIN_FILES)} and {CIFAR10_TEST_FILE}",
}


def load_dataset(name: str, train_fraction: float | None = None, seed: int = 0, **options) -> Dataset:
    """Load the data set called ``name`` with a seeded train/test split.

    Parameters
    ----------
    name : str
        One of the keys of ``LOADERS``: ``"szt"``, ``"mnist10k"``, ``"digits"`` (shipped),
        ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"`` (read from ``path=``).
    train_fraction : float, optional
        Fraction of the samples in the train part. None takes the loader's default:
        0.8 for the shipped sets, the files' own parts for the sets read from disk.
    seed : int
        Seed of the split permutation.
    **options
        Further arguments of the loader; ``path`` for the sets read from disk.

    Returns
    -------
    Dataset
    """
    if not isinstance(name, str) or name not in LOADERS:
        raise ValueError(f"unknown data set {name!r}; valid names: {', '.join(LOADERS)}")
    loader = LOADERS[name]

    split_parameters = ("train_fraction", "seed")
    valid_options = [option for option in inspect.signature(loader).parameters if option not in split_parameters]
    unknown = sorted(set(options) - set(valid_options))
    if unknown:
        raise ValueError(
            f"data set {name!r} takes no option {unknown[0]!r}; "
            f"valid options: {', '.join(valid_options) if valid_options else 'none'}"
        )
    if name in DISK_CONTENTS and options.get("path") is None:
        raise ValueError(f"data set {name!r} is read from disk: pass path= a folder containing {DISK_CONTENTS[name]}")

    if train_fraction is not None:
        options["train_fraction"] = train_fraction
    return loader(seed=seed, **options)
