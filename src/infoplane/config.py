"""Experiment configs: TOML files with the tables data, model, training, recording and analysis.

A config names only what differs from :data:`DEFAULTS`; :func:`load_config` fills in the rest
and rejects unknown tables and keys, naming the valid ones.

``[data] train_fraction = 0`` (the default) keeps each loader's own split: 80/20 for the
shipped sets, the files' train and test parts for data read from ``path``. An empty
``[model] channels`` list keeps the CNN's default channels.

``[training] te_guidance`` turns on TE-guided training (see :mod:`infoplane.guidance`):
``"scale"`` multiplies the joining weights' gradients by (1 + te_scale * TE). TE is estimated on the
last ``te_window`` training samples every ``te_refresh`` optimizer steps. ``"penalty"`` adds
``te_penalty_weight`` times the soft TE (sigmoid width ``te_temperature``) to the loss. Both use
the source-target delay ``te_delay`` and the pairs ``te_pairs``, a list of
[source layer, target layer, weight parameter] triples; an empty list takes the last hidden
layer -> output pair joined by ``out.weight``.
"""

from __future__ import annotations

import copy
import math
import tomllib
from importlib import resources
from pathlib import Path

DEFAULTS: dict[str, dict] = {
    "data": {"name": "szt", "train_fraction": 0.0, "seed": 0, "probe_size": 4096, "path": ""},
    "model": {"kind": "mlp", "widths": [10, 7, 5, 4, 3], "activation": "tanh", "channels": []},
    "training": {"optimizer": "adam", "learning_rate": 4e-4, "momentum": 0.9, "batch_size": 256,
                 "epochs": 8000, "seed": 0, "device": "cpu", "save_weights": False, "threads": 0,
                 "te_guidance": "off", "te_pairs": [], "te_window": 1024, "te_refresh": 10, "te_delay": 0,
                 "te_scale": 1.0, "te_penalty_weight": 0.01, "te_temperature": 0.1},
    "recording": {"schedule": "log", "n_records": 130, "every": 1, "modes": ["stream", "probe"],
                  "thresholds": {}, "max_units": 0, "keep_float": False},
    "analysis": {"alignments": [1, 0], "estimators": ["binning", "kde"], "n_bins": 30, "noise_variance": 0.1,
                 "n_surrogates": 19, "max_pairs": 1_000_000, "seed": 0},
}


class ConfigError(ValueError):
    """A config file is missing, unreadable, or contains an unknown or invalid entry."""


def shipped_config_names() -> list[str]:
    folder = resources.files("infoplane") / "configs"
    return sorted(entry.name[: -len(".toml")] for entry in folder.iterdir() if entry.name.endswith(".toml"))


def _resolve_path(name_or_path: str) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists() or "/" in name_or_path:
        if not candidate.is_file():
            raise ConfigError(f"config file {name_or_path} not found; give an existing .toml file or one of the "
                              f"shipped names: {', '.join(shipped_config_names())}")
        return candidate
    if name_or_path not in shipped_config_names():
        raise ConfigError(f"unknown config {name_or_path!r}; shipped configs: {', '.join(shipped_config_names())} "
                          "(or give the path of a .toml file)")
    return Path(str(resources.files("infoplane") / "configs" / f"{name_or_path}.toml"))


def merge_config(overrides: dict, source: str = "config") -> dict:
    """Return :data:`DEFAULTS` updated with ``overrides``, rejecting unknown tables and keys."""
    config = copy.deepcopy(DEFAULTS)
    overrides = dict(overrides)
    name = overrides.pop("name", None)
    if name is not None:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{source}: the top-level key name must be a non-empty string, got {name!r}")
        config["name"] = name
    for table, values in overrides.items():
        if table not in DEFAULTS:
            raise ConfigError(f"{source}: unknown table [{table}]; valid tables: {', '.join(DEFAULTS)} "
                              "(and the top-level key name)")
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: [{table}] must be a table of keys, got {values!r}")
        for key, value in values.items():
            if key not in DEFAULTS[table]:
                raise ConfigError(f"{source}: unknown key {key!r} in [{table}]; valid keys: "
                                  f"{', '.join(DEFAULTS[table])}")
            config[table][key] = value
    return config


def load_config(name_or_path: str) -> dict:
    """Read a shipped config by name, or a TOML file by path, and fill in the defaults."""
    path = _resolve_path(name_or_path)
    try:
        with open(path, "rb") as handle:
            overrides = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config {path} is not valid TOML: {error}") from error
    config = merge_config(overrides, source=str(path))
    config.setdefault("name", path.stem)
    return config


ANALYSIS_ESTIMATORS = ("binning", "kde")


def validate_analysis_settings(settings: dict) -> dict:
    """Return ``settings`` after checking the ``[analysis]`` values that are given; raise ValueError naming a bad one."""
    def positive_int(name, minimum):
        value = settings[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"[analysis] {name} must be an integer >= {minimum}, got {value!r}")

    for name, minimum in (("n_bins", 1), ("n_surrogates", 0), ("max_pairs", 1), ("kde_samples", 2)):
        if name in settings:
            positive_int(name, minimum)
    if "noise_variance" in settings:
        value = settings["noise_variance"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"[analysis] noise_variance must be a finite number > 0, got {value!r}")
    unknown = sorted(set(settings.get("estimators", ())) - set(ANALYSIS_ESTIMATORS))
    if unknown:
        raise ValueError(f"[analysis] estimators {unknown} are unknown; valid: {', '.join(ANALYSIS_ESTIMATORS)}")
    bad_delays = [delay for delay in settings.get("alignments", ()) if isinstance(delay, bool)
                  or not isinstance(delay, int) or delay < 0]
    if bad_delays:
        raise ValueError(f"[analysis] alignments must be source-target delays >= 0, got {bad_delays}")
    return settings
