"""Tests of the data sets: shipped sets, seeded splits, and readers of IDX and binary CIFAR-10 files."""

from __future__ import annotations

import gzip
import struct
from collections import Counter

import numpy as np
import pytest

from infoplane import datasets
from infoplane.datasets import load_dataset, read_idx, split_train_test

# Label counts of the official MNIST test set and of scikit-learn's digits, classes 0..9.
MNIST_TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
DIGITS_LABEL_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


# ---------------------------------------------------------------- file writers


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as IDX: two zero bytes, type 0x08, n_dims, big-endian dims, data."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_file(path, content: bytes, compress: bool = False) -> None:
    if compress:
        with gzip.open(path, "wb") as handle:
            handle.write(content)
    else:
        path.write_bytes(content)


def make_idx_folder(folder, n_train=5, n_test=3, height=4, width=3, compress=False, seed=0):
    """Write the four MNIST-style IDX files; return the raw uint8 images and labels written."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for part, n_images in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n_images, height, width), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n_images, dtype=np.uint8)
        suffix = ".gz" if compress else ""
        write_file(folder / f"{part}-images-idx3-ubyte{suffix}", idx_bytes(images), compress)
        write_file(folder / f"{part}-labels-idx1-ubyte{suffix}", idx_bytes(labels), compress)
        written[part] = (images, labels)
    return written


def cifar_batch_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
    """Encode (n, 3, 32, 32) uint8 images one record at a time: label byte, then R, G, B planes row by row."""
    records = bytearray()
    for image, label in zip(images, labels):
        records.append(int(label))
        for channel in range(3):
            for row in range(32):
                for column in range(32):
                    records.append(int(image[channel, row, column]))
    return bytes(records)


def make_cifar_folder(folder, n_per_batch=(2, 1, 3, 1, 2), n_test=2, seed=0):
    """Write the six binary CIFAR-10 batch files; return the train and test arrays written."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    train_images, train_labels = [], []
    for index, n_images in enumerate(n_per_batch, start=1):
        images = rng.integers(0, 256, size=(n_images, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n_images, dtype=np.uint8)
        (folder / f"data_batch_{index}.bin").write_bytes(cifar_batch_bytes(images, labels))
        train_images.append(images)
        train_labels.append(labels)
    test_images = rng.integers(0, 256, size=(n_test, 3, 32, 32), dtype=np.uint8)
    test_labels = rng.integers(0, 10, size=n_test, dtype=np.uint8)
    (folder / "test_batch.bin").write_bytes(cifar_batch_bytes(test_images, test_labels))
    return (np.concatenate(train_images), np.concatenate(train_labels)), (test_images, test_labels)


def row_counts(x: np.ndarray) -> Counter:
    return Counter(row.tobytes() for row in x.reshape(len(x), -1))


# ---------------------------------------------------------------- shipped sets


def test_szt_shapes_and_label_count():
    data = load_dataset("szt")
    assert data.input_shape == (12,)
    assert len(data.x_train) == 3277
    assert len(data.x_test) == 819
    assert data.n_classes == 2
    assert int(data.y_train.sum() + data.y_test.sum()) == 2118
    assert set(np.unique(data.x_train)) == {0.0, 1.0}


def test_szt_split_covers_every_pattern_once():
    data = load_dataset("szt", seed=3)
    patterns = np.concatenate([data.x_train, data.x_test]).astype(int)
    codes = patterns @ (2 ** np.arange(12))
    assert sorted(codes.tolist()) == list(range(4096))


def test_mnist10k_shapes_and_label_counts():
    data = load_dataset("mnist10k", train_fraction=0.75)
    assert data.input_shape == (1, 28, 28)
    assert len(data.x_train) == 7500
    assert len(data.x_test) == 2500
    assert data.x_train.dtype == np.float32
    assert data.y_train.dtype == np.int64
    assert np.bincount(np.concatenate([data.y_train, data.y_test])).tolist() == MNIST_TEST_LABEL_COUNTS
    assert data.x_train.min() == 0.0
    assert data.x_train.max() == 1.0


def test_mnist10k_split_partitions_images():
    data = load_dataset("mnist10k", seed=1)
    images = read_idx(datasets._shipped_file("t10k-images-idx3-ubyte.gz"))
    expected = row_counts(images.astype(np.float32) / 255.0)
    assert row_counts(np.concatenate([data.x_train, data.x_test])) == expected


def test_digits_matches_scikit_learn():
    from sklearn.datasets import load_digits

    data = load_dataset("digits", seed=2)
    reference = load_digits()
    assert data.input_shape == (1, 8, 8)
    assert data.n_classes == 10
    assert len(data.x_train) + len(data.x_test) == 1797
    assert np.bincount(np.concatenate([data.y_train, data.y_test])).tolist() == DIGITS_LABEL_COUNTS
    assert data.x_train.max() == 1.0
    pooled = np.concatenate([data.x_train, data.x_test])
    assert row_counts(pooled) == row_counts((reference.images / 16.0).astype(np.float32))


@pytest.mark.parametrize("name", ["szt", "mnist10k", "digits"])
def test_shipped_split_is_seeded(name):
    first = load_dataset(name, seed=5)
    again = load_dataset(name, seed=5)
    other = load_dataset(name, seed=6)
    np.testing.assert_array_equal(first.x_train, again.x_train)
    np.testing.assert_array_equal(first.y_test, again.y_test)
    assert not np.array_equal(first.y_train, other.y_train)


# ---------------------------------------------------------------- split_train_test


def test_split_is_disjoint_and_complete():
    x = np.arange(100)
    x_train, y_train, x_test, y_test = split_train_test(x, x * 2, train_fraction=0.7, seed=4)
    assert len(x_train) == 70
    assert len(x_test) == 30
    assert set(x_train.tolist()).isdisjoint(x_test.tolist())
    assert sorted(np.concatenate([x_train, x_test]).tolist()) == list(range(100))
    np.testing.assert_array_equal(y_train, x_train * 2)
    np.testing.assert_array_equal(y_test, x_test * 2)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"train_fraction": 1.0}, ValueError, "strictly between 0 and 1, got 1.0"),
        ({"train_fraction": 0.0}, ValueError, "strictly between 0 and 1, got 0.0"),
        ({"train_fraction": "0.5"}, TypeError, "train_fraction must be a number"),
        ({"train_fraction": 0.001}, ValueError, "leaves an empty part of 10 samples"),
        ({"seed": -1}, ValueError, "seed must be a non-negative integer, got -1"),
        ({"seed": 1.5}, ValueError, "seed must be a non-negative integer, got 1.5"),
    ],
)
def test_split_rejects_bad_arguments(arguments, error, message):
    settings = {"train_fraction": 0.5, "seed": 0} | arguments
    with pytest.raises(error, match=message):
        split_train_test(np.arange(10), np.arange(10), **settings)


def test_split_rejects_length_mismatch():
    with pytest.raises(ValueError, match="same number of samples, got 10 and 9"):
        split_train_test(np.arange(10), np.arange(9), 0.5, 0)


# ---------------------------------------------------------------- load_dataset validation


def test_load_dataset_lists_valid_names():
    with pytest.raises(ValueError, match="unknown data set 'cifar'; valid names: szt, mnist10k, digits, mnist"):
        load_dataset("cifar")


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "cifar10"])
def test_load_dataset_requires_path(name):
    with pytest.raises(ValueError, match=f"data set '{name}' is read from disk: pass path="):
        load_dataset(name)


def test_load_dataset_rejects_unknown_option(tmp_path):
    with pytest.raises(ValueError, match="data set 'szt' takes no option 'path'; valid options: none"):
        load_dataset("szt", path=tmp_path)
    with pytest.raises(ValueError, match="data set 'mnist' takes no option 'folder'; valid options: path"):
        load_dataset("mnist", folder=tmp_path)


# ---------------------------------------------------------------- IDX files


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, compress):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4) * 10
    path = tmp_path / "array.idx"
    write_file(path, idx_bytes(array), compress)
    result = read_idx(path)
    assert result.dtype == np.uint8
    np.testing.assert_array_equal(result, array)


def test_read_idx_big_endian_int32(tmp_path):
    values = np.array([[1, -2], [70000, -300000]], dtype=">i4")
    path = tmp_path / "int32.idx"
    path.write_bytes(struct.pack(">HBB", 0, 0x0C, 2) + struct.pack(">2I", 2, 2) + values.tobytes())
    result = read_idx(path)
    assert result.dtype == np.int32
    assert result.tolist() == [[1, -2], [70000, -300000]]


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_idx_folder_read_value_by_value(tmp_path, name, compress):
    written = make_idx_folder(tmp_path, n_train=5, n_test=3, compress=compress)
    data = load_dataset(name, path=tmp_path)
    assert data.name == name
    assert data.n_classes == 10
    assert data.input_shape == (1, 4, 3)
    for x, y, part in ((data.x_train, data.y_train, "train"), (data.x_test, data.y_test, "t10k")):
        images, labels = written[part]
        assert x.dtype == np.float32
        assert y.tolist() == labels.tolist()
        for index in range(len(images)):
            for row in range(4):
                for column in range(3):
                    assert x[index, 0, row, column] == np.float32(images[index, row, column]) / np.float32(255)


def test_idx_folder_pooled_split(tmp_path):
    written = make_idx_folder(tmp_path, n_train=6, n_test=4)
    data = load_dataset("mnist", train_fraction=0.5, seed=1, path=tmp_path)
    assert len(data.x_train) == 5
    assert len(data.x_test) == 5
    pooled_labels = np.concatenate([written["train"][1], written["t10k"][1]])
    assert Counter(np.concatenate([data.y_train, data.y_test]).tolist()) == Counter(pooled_labels.tolist())
    again = load_dataset("mnist", train_fraction=0.5, seed=1, path=tmp_path)
    np.testing.assert_array_equal(data.x_train, again.x_train)


def test_idx_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="folder for data set 'mnist' not found: .*missing; pass path="):
        load_dataset("mnist", path=tmp_path / "missing")


def test_idx_missing_file(tmp_path):
    make_idx_folder(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="expected t10k-labels-idx1-ubyte or t10k-labels-idx1-ubyte.gz in"):
        load_dataset("fashion-mnist", path=tmp_path)


def test_idx_truncated_file(tmp_path):
    make_idx_folder(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte is truncated: 75 bytes, .* needs 76"):
        load_dataset("mnist", path=tmp_path)


def test_idx_truncated_header(tmp_path):
    path = tmp_path / "short.idx"
    path.write_bytes(struct.pack(">HBB", 0, 0x08, 3) + struct.pack(">I", 5))
    with pytest.raises(ValueError, match="truncated: 8 bytes, fewer than its 16-byte header"):
        read_idx(path)


def test_idx_extra_bytes(tmp_path):
    path = tmp_path / "long.idx"
    path.write_bytes(idx_bytes(np.zeros(3, dtype=np.uint8)) + b"\x00\x00")
    with pytest.raises(ValueError, match=r"has 2 bytes more than its header \(shape \(3,\), uint8\)"):
        read_idx(path)


def test_idx_truncated_gzip(tmp_path):
    path = tmp_path / "cut.gz"
    write_file(path, idx_bytes(np.zeros((50, 4), dtype=np.uint8)), compress=True)
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(ValueError, match="cut.gz is a truncated or damaged gzip file"):
        read_idx(path)


def test_idx_wrong_magic(tmp_path):
    make_idx_folder(tmp_path)
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(b"\x01" + path.read_bytes()[1:])
    with pytest.raises(ValueError, match="is not an IDX file: magic number 0x01000801"):
        load_dataset("mnist", path=tmp_path)


def test_idx_labels_file_in_place_of_images(tmp_path):
    make_idx_folder(tmp_path)
    labels = (tmp_path / "train-labels-idx1-ubyte").read_bytes()
    (tmp_path / "train-images-idx3-ubyte").write_bytes(labels)
    with pytest.raises(ValueError, match=r"\(IDX magic number 2051\), got uint8 of shape \(5,\)"):
        load_dataset("mnist", path=tmp_path)


def test_idx_count_mismatch(tmp_path):
    make_idx_folder(tmp_path, n_train=5)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(4, dtype=np.uint8)))
    with pytest.raises(ValueError, match="has 5 images but .*train-labels-idx1-ubyte has 4 labels"):
        load_dataset("mnist", path=tmp_path)


def test_idx_label_out_of_range(tmp_path):
    make_idx_folder(tmp_path, n_test=3)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.array([1, 12, 10], dtype=np.uint8)))
    with pytest.raises(ValueError, match="contains 2 labels outside 0..9, the first 12 at index 1"):
        load_dataset("mnist", path=tmp_path)


def test_idx_image_size_mismatch(tmp_path):
    make_idx_folder(tmp_path, n_test=2)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((2, 5, 5), dtype=np.uint8)))
    with pytest.raises(ValueError, match=r"differ in shape: \(1, 4, 3\) and \(1, 5, 5\)"):
        load_dataset("mnist", path=tmp_path)


# ---------------------------------------------------------------- CIFAR-10 binary files


def test_cifar10_read_value_by_value(tmp_path):
    (train_images, train_labels), (test_images, test_labels) = make_cifar_folder(tmp_path)
    data = load_dataset("cifar10", path=tmp_path)
    assert data.input_shape == (3, 32, 32)
    assert data.n_classes == 10
    assert data.x_train.dtype == np.float32
    assert len(data.x_train) == 9
    assert data.y_train.tolist() == train_labels.tolist()
    assert data.y_test.tolist() == test_labels.tolist()
    # Independent decoding: record k of a batch starts at byte k * 3073; pixel (c, r, col) follows
    # the label byte at offset 1 + 1024 c + 32 r + col.
    raw = (tmp_path / "data_batch_3.bin").read_bytes()
    for record in range(3):
        assert raw[record * 3073] == data.y_train[3 + record]
        for channel, row, column in ((0, 0, 0), (1, 5, 31), (2, 31, 7), (2, 31, 31)):
            byte = raw[record * 3073 + 1 + 1024 * channel + 32 * row + column]
            assert data.x_train[3 + record, channel, row, column] == np.float32(byte) / np.float32(255)
    np.testing.assert_array_equal(data.x_test, test_images.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(data.x_train, train_images.astype(np.float32) / np.float32(255))


def test_cifar10_archive_subfolder(tmp_path):
    make_cifar_folder(tmp_path / "cifar-10-batches-bin")
    data = load_dataset("cifar10", path=tmp_path)
    assert len(data.x_test) == 2


def test_cifar10_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="folder for data set 'cifar10' not found"):
        load_dataset("cifar10", path=tmp_path / "nowhere")


def test_cifar10_missing_file(tmp_path):
    make_cifar_folder(tmp_path)
    (tmp_path / "data_batch_4.bin").unlink()
    with pytest.raises(FileNotFoundError, match="CIFAR-10 file not found: .*data_batch_4.bin; the binary version"):
        load_dataset("cifar10", path=tmp_path)


def test_cifar10_pickle_version_named(tmp_path):
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"):
        (tmp_path / name).write_bytes(b"not read")
    with pytest.raises(FileNotFoundError, match=r"data_batch_1 there is the Python \(pickle\) version"):
        load_dataset("cifar10", path=tmp_path)


def test_cifar10_truncated_file(tmp_path):
    make_cifar_folder(tmp_path)
    path = tmp_path / "test_batch.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="test_batch.bin is truncated or not a binary CIFAR-10 batch: 6046 bytes"):
        load_dataset("cifar10", path=tmp_path)


def test_cifar10_empty_file(tmp_path):
    make_cifar_folder(tmp_path)
    (tmp_path / "data_batch_2.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="data_batch_2.bin is truncated .*: 0 bytes"):
        load_dataset("cifar10", path=tmp_path)


def test_cifar10_label_out_of_range(tmp_path):
    make_cifar_folder(tmp_path)
    path = tmp_path / "data_batch_1.bin"
    raw = bytearray(path.read_bytes())
    raw[3073] = 10
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="data_batch_1.bin contains 1 labels outside 0..9, the first 10 at index 1"):
        load_dataset("cifar10", path=tmp_path)
