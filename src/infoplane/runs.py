"""RunStore: the on-disk format of one run, with atomic writes and resume.

A run folder holds::

    run.json              schema version, resolved config, seed, package versions, status
    metrics.parquet       one row per finished epoch: epoch, train_loss, train_accuracy,
                          test_loss, test_accuracy, seconds
    checkpoints/last.pt   model, optimizer and random-generator states after the last
                          checkpointed epoch (loadable with ``weights_only=True``)
    probe.npz             the probe set: ``x`` (n_probe, n_input_units) float32 inputs,
                          ``x_bits`` the same binarized, ``y`` (n_probe,) int64 labels
    epochs/000123.npz     one file per recorded epoch (keys below)
    measures.parquet      tidy analysis table, one value per row
    summary.json          the statistics of the analysis
    figures/              PNG, SVG and GIF figures

Keys of an epoch file (``<layer>`` is a recorded layer name; the input is ``x`` and
the network output after the softmax is ``output``):

- ``layers``: the recorded layer names in forward order, a unicode array;
- ``order``: (n_steps,) indices of the training samples in the order the optimizer saw them;
- ``stream_y``: (n_steps,) labels in that order;
- ``stream_bits/<layer>``: the binarized training stream, bit-packed along the unit axis
  with ``numpy.packbits``; ``n_units/<layer>`` gives the unpacked width;
- ``stream_float/<layer>``: (n_steps, n_units) float16 stream, only when ``keep_float`` is on;
- ``probe_float/<layer>``: (n_probe, n_units) float16 probe activations;
- ``probe_bits/<layer>``: the binarized probe activations, bit-packed like the stream.

Every file is written to a temporary name in the same folder and renamed into place,
so a crash leaves either the previous complete file or the new one.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
STATUSES = ("running", "finished", "failed", "interrupted")
EPOCH_FILE_DIGITS = 6
_UMASK = os.umask(0)
os.umask(_UMASK)


class RunFormatError(ValueError):
    """A run folder or one of its files is missing, truncated or of an unknown schema."""


def _atomic_write(path: Path, write) -> None:
    """Call ``write(temporary_path)`` and rename the result to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        write(temporary)
        os.chmod(temporary, 0o666 & ~_UMASK)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def write_json(path: Path, payload: dict) -> None:
    text = json.dumps(payload, indent=2, sort_keys=True, default=_json_default)
    _atomic_write(Path(path), lambda temporary: Path(temporary).write_text(text + "\n", encoding="utf-8"))


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in JSON")


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    _atomic_write(Path(path), lambda temporary: frame.to_parquet(temporary, index=False))


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    def write(temporary):
        with open(temporary, "wb") as handle:
            np.savez(handle, **arrays)

    _atomic_write(Path(path), write)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` file, raising :class:`RunFormatError` on a damaged file."""
    path = Path(path)
    if not path.is_file():
        raise RunFormatError(f"file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise RunFormatError(f"{path} is damaged or truncated ({error}); restore it from a copy, or train the "
                             "run again into a new folder") from error


def epoch_file_name(epoch: int) -> str:
    return f"{epoch:0{EPOCH_FILE_DIGITS}d}.npz"


@dataclass
class RunStore:
    """One run folder. ``RunStore.create`` starts a new one, ``RunStore.open`` reads an existing one."""

    path: Path
    info: dict = field(default_factory=dict)

    @classmethod
    def create(cls, path: str | Path, config: dict, seed: int) -> "RunStore":
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise ValueError(f"output path {path} exists and is not a folder; choose another --out")
        if path.is_dir() and any(path.iterdir()):
            raise ValueError(f"output folder {path} is not empty; choose a new --out, or continue it with --resume {path}")
        try:
            path.mkdir(parents=True, exist_ok=True)
            (path / "epochs").mkdir(exist_ok=True)
            (path / "checkpoints").mkdir(exist_ok=True)
        except OSError as error:
            raise ValueError(f"cannot create output folder {path} ({error.strerror}); choose a writable --out") from error
        if not os.access(path, os.W_OK):
            raise ValueError(f"output folder {path} is not writable; choose a writable --out")
        store = cls(path, {"schema_version": SCHEMA_VERSION, "config": config, "seed": seed, "status": "running",
                           "versions": package_versions()})
        store.write_info()
        return store

    @classmethod
    def open(cls, path: str | Path) -> "RunStore":
        path = Path(path)
        info_path = path / "run.json"
        if not info_path.is_file():
            raise RunFormatError(f"{path} is not a run folder: {info_path} not found")
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise RunFormatError(f"{info_path} is not valid JSON ({error})") from error
        version = info.get("schema_version")
        if version != SCHEMA_VERSION:
            raise RunFormatError(
                f"{info_path} has schema version {version!r}, but this infoplane reads version {SCHEMA_VERSION}; "
                "use the infoplane version that wrote it"
            )
        return cls(path, info)

    # run.json

    def write_info(self) -> None:
        write_json(self.path / "run.json", self.info)

    def set_status(self, status: str, error: str | None = None) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown run status {status!r}; valid: {', '.join(STATUSES)}")
        self.info["status"] = status
        if error is None:
            self.info.pop("error", None)
        else:
            self.info["error"] = error
        self.write_info()

    @property
    def config(self) -> dict:
        return self.info["config"]

    # metrics

    def write_metrics(self, rows: list[dict]) -> None:
        write_parquet(self.path / "metrics.parquet", pd.DataFrame(rows, columns=METRIC_COLUMNS))

    def read_metrics(self) -> pd.DataFrame:
        path = self.path / "metrics.parquet"
        if not path.is_file():
            return pd.DataFrame(columns=METRIC_COLUMNS)
        return pd.read_parquet(path)

    # epochs and probe

    def write_epoch(self, epoch: int, arrays: dict[str, np.ndarray]) -> None:
        write_npz(self.path / "epochs" / epoch_file_name(epoch), arrays)

    def recorded_epochs(self) -> list[int]:
        epochs = []
        for file in sorted((self.path / "epochs").glob("*.npz")):
            if file.stem.isdigit():
                epochs.append(int(file.stem))
        return epochs

    def read_epoch(self, epoch: int) -> dict[str, np.ndarray]:
        return read_npz(self.path / "epochs" / epoch_file_name(epoch))

    def write_probe(self, arrays: dict[str, np.ndarray]) -> None:
        write_npz(self.path / "probe.npz", arrays)

    def read_probe(self) -> dict[str, np.ndarray]:
        return read_npz(self.path / "probe.npz")

    # checkpoints

    def write_checkpoint(self, state: dict) -> None:
        _atomic_write(self.path / "checkpoints" / "last.pt", lambda temporary: torch.save(state, temporary))

    def read_checkpoint(self) -> dict | None:
        path = self.path / "checkpoints" / "last.pt"
        if not path.is_file():
            return None
        try:
            return torch.load(path, weights_only=True, map_location="cpu")
        except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as error:
            raise RunFormatError(f"{path} is damaged ({error}); delete it to restart the run from scratch") from error

    # analysis results

    def write_measures(self, frame: pd.DataFrame) -> None:
        write_parquet(self.path / "measures.parquet", frame)

    def read_measures(self) -> pd.DataFrame:
        path = self.path / "measures.parquet"
        if not path.is_file():
            raise RunFormatError(f"{path} not found; run `infoplane analyze {self.path}` first")
        return pd.read_parquet(path)

    def write_summary(self, summary: dict) -> None:
        write_json(self.path / "summary.json", summary)

    @property
    def figures(self) -> Path:
        folder = self.path / "figures"
        folder.mkdir(exist_ok=True)
        return folder


METRIC_COLUMNS = ["epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds"]


def package_versions() -> dict[str, str]:
    import importlib.metadata as metadata
    import platform

    versions = {"python": platform.python_version()}
    for name in ("infoplane", "numpy", "scipy", "torch", "pandas", "pyarrow", "matplotlib"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """Pack a (n_steps, n_units) array of 0/1 along the unit axis."""
    return np.packbits(np.asarray(bits, dtype=np.uint8), axis=1)


def unpack_bits(packed: np.ndarray, n_units: int) -> np.ndarray:
    """Invert :func:`pack_bits`: return a (n_steps, n_units) uint8 array of 0/1."""
    return np.unpackbits(packed, axis=1, count=int(n_units))
