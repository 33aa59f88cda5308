"""Sweeps: one config trained over a grid of seeds and overrides, one run folder per combination.

A sweep folder contains the manifest ``sweep.json`` and one run folder per combination::

    <sweep>/
      sweep.json                  config, grid, and each run's folder, params and status
      activation-relu_seed-03/    an ordinary run folder (see :mod:`infoplane.runs`)
      ...

The grid is the product of its axes, in the order given, with the seed axis last.
An axis comes from ``--set table.key=v1,v2`` (each comma-separated value is one TOML
value; a list in brackets is one value) or from ``--seeds`` (``[training] seed``).
Running the same sweep again on its folder skips finished runs, resumes interrupted
and failed runs from their checkpoint (or starts them over when there is none) and
updates the manifest; a different config or grid on an existing folder is rejected.

Runs execute in worker processes (``executor="local"``) or as Ray tasks
(``executor="ray"``). Each worker trains, analyses (``measures.parquet``) and draws
the figures of its run; only the calling process writes the manifest.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import re
import shutil
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .config import DEFAULTS, ConfigError
from .runs import RunFormatError, RunStore, write_json

logger = logging.getLogger(__name__)

MANIFEST_NAME = "sweep.json"
LOCK_NAME = ".sweep.lock"
MANIFEST_SCHEMA_VERSION = 1
SEED_KEY = "training.seed"
EXECUTORS = ("local", "ray")
_BARE_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_+\-]*")
_UNSAFE_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9.+\-]+")


class SweepError(ValueError):
    """A sweep request is invalid or conflicts with the sweep folder it names."""


# Parsing the command line


def parse_seeds(text: str) -> list[int]:
    """Parse ``"0-9"``, ``"0,2,5"`` or a mix such as ``"0-3,7"`` into a list of distinct seeds (>= 0)."""
    seeds: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if match is None:
            raise SweepError(f"--seeds: {part!r} in {text!r} is neither a seed nor a range; "
                             "give non-negative integers and ranges such as 0-9 or 0,2,5")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise SweepError(f"--seeds: the range {part!r} ends before it starts; write it as {last}-{first}")
        seeds.extend(range(first, last + 1))
    repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if repeated:
        raise SweepError(f"--seeds: seed {repeated[0]} appears twice in {text!r}; list each seed once")
    return seeds


def _split_top_level(text: str) -> list[str]:
    """Split ``text`` at commas outside brackets, braces and quotes."""
    pieces, depth, quote, start = [], 0, "", 0
    for index, character in enumerate(text):
        if quote:
            quote = "" if character == quote else quote
        elif character in "\"'":
            quote = character
        elif character in "[{":
            depth += 1
        elif character in "]}":
            depth -= 1
        elif character == "," and depth == 0:
            pieces.append(text[start:index])
            start = index + 1
    pieces.append(text[start:])
    return [piece.strip() for piece in pieces]


def _parse_value(text: str, key: str):
    """Parse one TOML value; a bare word such as ``relu`` is taken as a string."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError as error:
        if _BARE_WORD.fullmatch(text):
            return text
        raise SweepError(f"--set {key}: {text!r} is not a TOML value ({error}); quote strings with special "
                         "characters and write lists in brackets, e.g. model.widths=[10,7,5]") from None


def _check_type(key: str, value) -> None:
    """Reject a value whose type differs from the default of ``key`` (an int is accepted for a float)."""
    table, name = key.split(".")
    default = DEFAULTS[table][name]
    expected = type(default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return
    if isinstance(value, bool) != isinstance(default, bool) or not isinstance(value, expected):
        raise SweepError(f"--set {key}: expected type {expected.__name__} like the default {default!r}, "
                         f"got {value!r} ({type(value).__name__})")


def parse_assignment(text: str) -> tuple[str, list]:
    """Parse ``table.key=v1,v2,...`` into the key and its list of values (one grid axis).

    Each comma-separated value is read as TOML (``200``, ``4e-4``, ``true``, ``"sgd"``,
    ``[10,7,5]``); a bare word such as ``relu`` is read as a string. Commas inside
    brackets belong to one list value.
    """
    key, separator, values_text = str(text).partition("=")
    key = key.strip()
    if not separator or not values_text.strip():
        raise SweepError(f"--set {text!r}: expected table.key=value[,value...], e.g. model.activation=relu,tanh")
    table, dot, name = key.partition(".")
    if not dot or table not in DEFAULTS:
        raise SweepError(f"--set {text!r}: the key must be table.key with a table among {', '.join(DEFAULTS)}")
    if name not in DEFAULTS[table]:
        raise SweepError(f"--set {key}: unknown key {name!r} in [{table}]; valid keys: {', '.join(DEFAULTS[table])}")
    if key == SEED_KEY:
        raise SweepError(f"--set {key}: give training seeds with --seeds, e.g. --seeds 0-4")
    values = []
    for piece in _split_top_level(values_text):
        if not piece:
            raise SweepError(f"--set {text!r}: empty value between commas; remove the extra comma")
        value = _parse_value(piece, key)
        _check_type(key, value)
        values.append(value)
    return key, values


def build_grid(assignments: list[str], seeds: list[int]) -> list[dict]:
    """Return the grid axes ``[{"key": ..., "values": [...]}, ...]``: the ``--set`` axes in order, seeds last."""
    axes = []
    for text in assignments:
        key, values = parse_assignment(text)
        if any(axis["key"] == key for axis in axes):
            raise SweepError(f"--set {key} is given twice; list all its values in one --set {key}=v1,v2")
        axes.append({"key": key, "values": values})
    if not seeds:
        raise SweepError("--seeds: no seeds given; give at least one, e.g. --seeds 0")
    axes.append({"key": SEED_KEY, "values": list(seeds)})
    return axes


# The runs of a grid


@dataclass(frozen=True)
class SweepRun:
    """One combination of the grid: its folder name, parameter values and resolved config."""

    name: str
    params: dict
    config: dict


def _value_slug(value) -> str:
    if isinstance(value, list):
        return "-".join(_value_slug(item) for item in value)
    if isinstance(value, bool):
        return str(value).lower()
    return _UNSAFE_NAME_CHARACTERS.sub("-", str(value)).strip("-") or "empty"


def _axis_labels(keys: list[str]) -> dict[str, str]:
    """Label each key by its name without the table, unless two axes share that name."""
    names = [key.split(".")[1] for key in keys]
    return {key: name if names.count(name) == 1 else key for key, name in zip(keys, names)}


def run_name(params: dict, seed_width: int) -> str:
    """Return the folder name of one combination, e.g. ``activation-relu_seed-03``."""
    labels = _axis_labels(list(params))
    parts = []
    for key, value in params.items():
        slug = f"{value:0{seed_width}d}" if key == SEED_KEY else _value_slug(value)
        parts.append(f"{labels[key]}-{slug}")
    return "_".join(parts)


def expand_grid(config: dict, grid: list[dict]) -> list[SweepRun]:
    """Return one :class:`SweepRun` per combination of ``grid``, the last axis varying fastest."""
    seed_width = len(str(max(next(axis for axis in grid if axis["key"] == SEED_KEY)["values"])))
    runs, names = [], {}
    for values in itertools.product(*(axis["values"] for axis in grid)):
        params = dict(zip((axis["key"] for axis in grid), values))
        run_config = copy.deepcopy(config)
        for key, value in params.items():
            table, name = key.split(".")
            run_config[table][name] = copy.deepcopy(value)
        name = run_name(params, seed_width)
        if name in names:
            raise SweepError(f"the combinations {names[name]} and {params} share the folder name {name!r}; "
                             "make the --set values differ in letters or digits")
        names[name] = params
        runs.append(SweepRun(name, params, run_config))
    return runs


# The manifest


def _as_json(value):
    """Return ``value`` as it reads back from JSON, so that stored and new settings compare equal."""
    return json.loads(json.dumps(value, sort_keys=True))


def _describe_difference(stored: dict, requested: dict) -> str:
    if stored["grid"] != requested["grid"]:
        return f"its grid is {stored['grid']}, the request's is {requested['grid']}"
    differing = []
    for table in sorted(set(stored["config"]) | set(requested["config"])):
        old, new = stored["config"].get(table), requested["config"].get(table)
        if isinstance(old, dict) and isinstance(new, dict):
            differing += [f"{table}.{key}" for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]
        elif old != new:
            differing.append(table)
    return f"its base config differs in {', '.join(differing)}"


def open_manifest(out: Path, config: dict, grid: list[dict], runs: list[SweepRun]) -> dict:
    """Read the manifest of ``out`` if it has one for the same config and grid, else start a new one."""
    path = out / MANIFEST_NAME
    requested = {"config": _as_json(config), "grid": _as_json(grid)}
    if not path.is_file():
        if out.is_dir() and any(entry.name != LOCK_NAME for entry in out.iterdir()):
            raise SweepError(f"{out} is not empty and has no {MANIFEST_NAME}; choose a new or empty --out")
        now = time.strftime("%Y-%m-%dT%H:%M:%S")
        return {"schema_version": MANIFEST_SCHEMA_VERSION, "created": now, **requested,
                "runs": [{"name": run.name, "folder": run.name, "params": run.params, "status": "pending",
                          "error": None, "seconds": None} for run in runs]}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise SweepError(f"{path} is not valid JSON ({error}); restore it or choose a new --out") from error
    if manifest.get("schema_version") != MANIFEST_SCHEMA_VERSION:
        raise SweepError(f"{path} has schema version {manifest.get('schema_version')!r}, but this infoplane "
                         f"reads version {MANIFEST_SCHEMA_VERSION}; choose a new --out")
    if manifest["config"] != requested["config"] or manifest["grid"] != requested["grid"]:
        raise SweepError(f"{out} contains a different sweep: {_describe_difference(manifest, requested)}; "
                         "rerun it with its own config and grid, or choose a new --out")
    return manifest


def write_manifest(out: Path, manifest: dict) -> None:
    manifest["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    write_json(out / MANIFEST_NAME, manifest)


def plan_action(folder: Path, manifest_status: str) -> str:
    """Decide what a run folder needs: ``skip``, ``analyze``, ``resume`` or ``start`` (over).

    A run is skipped only when both its run.json and the manifest record ``finished``
    (the manifest is marked after the analysis and the figures); a trained run whose
    analysis did not finish is analysed again; any other run resumes from its
    checkpoint, or starts over when it has none.
    """
    try:
        store = RunStore.open(folder)
    except RunFormatError:
        return "start"
    if store.info.get("status") == "finished":
        complete = manifest_status == "finished" and (folder / "measures.parquet").is_file()
        return "skip" if complete else "analyze"
    return "resume" if (folder / "checkpoints" / "last.pt").is_file() else "start"


# The worker


def _analyze_and_draw(store: RunStore) -> None:
    from .analysis import analyze_run
    from .plotting import draw_run_figures

    measures = analyze_run(store)
    n_probe = len(store.read_probe()["y"])
    draw_run_figures(measures, store.read_metrics(), store.figures, n_probe=n_probe,
                     n_bins=store.config["analysis"]["n_bins"])


def execute_run(config: dict, folder: str, action: str) -> dict:
    """Train (``start``), continue (``resume``) or only analyse (``analyze``) one run, then analyse and draw it.

    Runs in a worker process or Ray task. Returns ``{"status", "error", "seconds"}``
    instead of raising, so that one failed run does not stop the sweep.
    """
    from .pipeline import train_run
    from .training import TrainingFailed, TrainingInterrupted

    started = time.perf_counter()
    folder = Path(folder)
    try:
        if action == "start":
            if folder.exists():
                shutil.rmtree(folder)
            store = train_run(config, folder)
        elif action == "resume":
            store = train_run(None, folder, resume=True)
        else:
            store = RunStore.open(folder)
        _analyze_and_draw(store)
        status, error = "finished", None
    except (TrainingInterrupted, KeyboardInterrupt) as caught:
        status, error = "interrupted", str(caught) or "interrupted"
    except TrainingFailed as caught:
        status, error = "failed", str(caught)
    except Exception as caught:  # noqa: BLE001 - reported in the manifest, the sweep goes on
        logger.exception("run %s failed", folder)
        status, error = "failed", f"{type(caught).__name__}: {caught}"
    return {"status": status, "error": error, "seconds": round(time.perf_counter() - started, 3)}


def _initialize_worker(log_level: int) -> None:
    """Ignore SIGINT outside training: the Trainer turns it into a stop after the current epoch."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s [worker]: %(message)s")


# The executors


@dataclass
class _Task:
    run: SweepRun
    folder: Path
    action: str


def _interrupt_requested(interrupted: bool) -> bool:
    if interrupted:
        raise KeyboardInterrupt
    logger.warning("interrupt received: running runs stop after their current epoch; no new runs start "
                   "(press Ctrl-C again to abort)")
    return True


def _execute_local(tasks: list[_Task], workers: int):
    """Run ``tasks`` in ``workers`` spawned processes; yield ``(task, outcome)`` as each ends."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    pending, in_flight, interrupted = list(tasks), {}, False
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_initialize_worker,
                             initargs=(logging.getLogger().getEffectiveLevel(),)) as pool:
        while pending or in_flight:
            # Submit only to idle workers, so that an interrupt leaves no queued run behind.
            while pending and len(in_flight) < workers and not interrupted:
                task = pending.pop(0)
                in_flight[pool.submit(execute_run, task.run.config, str(task.folder), task.action)] = task
            if not in_flight:
                break
            try:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            except KeyboardInterrupt:
                interrupted = _interrupt_requested(interrupted)
                continue
            for future in done:
                task = in_flight.pop(future)
                try:
                    outcome = future.result()
                except Exception as error:  # noqa: BLE001 - a worker process died (e.g. killed for memory)
                    outcome = {"status": "failed", "error": f"{type(error).__name__}: {error}", "seconds": None}
                yield task, outcome
    if interrupted:
        raise KeyboardInterrupt


def _import_ray():
    try:
        import ray
    except ImportError as error:
        raise SweepError("the ray executor needs the optional dependency ray; install it with "
                         "pip install 'infoplane[ray]', or use --executor local") from error
    return ray


def _ray_outcome(ray, reference) -> dict:
    try:
        return ray.get(reference)
    except ray.exceptions.TaskCancelledError:
        return {"status": "interrupted", "error": "Ray task cancelled", "seconds": None}
    except ray.exceptions.RayError as error:
        return {"status": "failed", "error": f"{type(error).__name__}: {error}", "seconds": None}


def _execute_ray(tasks: list[_Task], workers: int | None, address: str | None):
    """Run each task as a Ray task (one CPU each); yield ``(task, outcome)`` as each ends.

    Uses the Ray instance already initialised in this process if there is one, else
    starts or joins one with ``ray.init(address=address)``. On a cluster the sweep
    folder must be on a file system that every node mounts at the same path.
    """
    ray = _import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False)
    elif address is not None:
        logger.warning("Ray is already initialised in this process; --address %s is not used", address)
    remote_run = ray.remote(num_cpus=1, max_retries=0)(execute_run)
    limit = workers or len(tasks)
    pending, in_flight, interrupted = list(tasks), {}, False
    try:
        while pending or in_flight:
            while pending and len(in_flight) < limit and not interrupted:
                task = pending.pop(0)
                in_flight[remote_run.remote(task.run.config, str(task.folder), task.action)] = task
            if not in_flight:
                break
            try:
                done, _ = ray.wait(list(in_flight), num_returns=1)
            except KeyboardInterrupt:
                interrupted = _interrupt_requested(interrupted)
                for reference in in_flight:
                    ray.cancel(reference)
                continue
            for reference in done:
                yield in_flight.pop(reference), _ray_outcome(ray, reference)
    finally:
        if started_here:
            ray.shutdown()
    if interrupted:
        raise KeyboardInterrupt


# The sweep


def _lock(out: Path):
    """Hold an exclusive lock on the sweep folder, so that two sweeps never write the same runs."""
    import fcntl

    handle = open(out / LOCK_NAME, "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise SweepError(f"another sweep is running on {out}; wait for it to end or choose another --out") from None
    return handle


def _check_executor(executor: str, workers: int | None, address: str | None) -> None:
    if executor not in EXECUTORS:
        raise SweepError(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise SweepError(f"--workers must be a positive integer, got {workers!r}")
    if address is not None and executor != "ray":
        raise SweepError(f"--address {address} needs --executor ray")


def _plan_tasks(out: Path, manifest: dict, runs: list[SweepRun]) -> list[_Task]:
    tasks = []
    for entry, run in zip(manifest["runs"], runs):
        folder = out / entry["folder"]
        action = plan_action(folder, entry["status"])
        if action == "skip":
            logger.info("%s is finished: skipped", entry["name"])
            continue
        if entry["status"] != "pending":
            logger.info("%s was %s: %s", entry["name"], entry["status"], action)
        tasks.append(_Task(run, folder, action))
    return tasks


def run_sweep(config: dict, out, grid: list[dict], executor: str = "local", workers: int | None = None,
              address: str | None = None,
              on_result: Callable[[dict, dict], None] | None = None) -> dict:
    """Train every combination of ``grid`` on ``config`` into ``out``, or continue that sweep.

    Parameters
    ----------
    config : dict
        A resolved config (:func:`infoplane.config.load_config`): the base of every run.
    out : str or Path
        The sweep folder; created if missing. A folder with a manifest is continued.
    grid : list of dict
        Axes ``{"key": "table.key", "values": [...]}`` from :func:`build_grid`.
    executor : {"local", "ray"}
        Worker processes on this machine, or Ray tasks.
    workers : int, optional
        Runs in flight at once: default 1 for ``local``, every run for ``ray`` (Ray
        then schedules one run per free CPU).
    address : str, optional
        Address of an existing Ray cluster (``ray`` only); default a local Ray instance.
    on_result : callable, optional
        Called as ``on_result(entry, manifest)`` after each run ends, ``entry`` being its
        manifest record.

    Returns
    -------
    dict
        The manifest as written to ``out/sweep.json``.

    Raises
    ------
    SweepError
        For an invalid request, a folder holding another sweep, or a sweep already running there.
    KeyboardInterrupt
        After an interrupt, once the running runs have saved their last epoch and the manifest is written.
    """
    _check_executor(executor, workers, address)
    if executor == "ray":
        _import_ray()
    out = Path(out)
    from .pipeline import check_run_config

    runs = expand_grid(config, grid)
    for run in runs:
        try:
            check_run_config(run.config)
        except ValueError as error:
            raise SweepError(f"grid point {run.name}: {error}; change the --set values") from None
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SweepError(f"cannot create sweep folder {out} ({error.strerror}); choose a writable --out") from error
    lock = _lock(out)
    try:
        manifest = open_manifest(out, config, grid, runs)
        manifest["executor"] = executor
        tasks = _plan_tasks(out, manifest, runs)
        entries = {entry["name"]: entry for entry in manifest["runs"]}
        for task in tasks:
            entries[task.run.name].update(status="running", error=None)
        write_manifest(out, manifest)

        if executor == "local":
            outcomes = _execute_local(tasks, workers or 1)
        else:
            outcomes = _execute_ray(tasks, workers, address)
        try:
            for task, outcome in outcomes:
                entry = entries[task.run.name]
                entry.update(outcome)
                write_manifest(out, manifest)
                logger.info("%s: %s", entry["name"], entry["status"])
                if on_result is not None:
                    on_result(entry, manifest)
        finally:
            for entry in manifest["runs"]:
                if entry["status"] == "running":
                    entry["status"] = "interrupted"
            write_manifest(out, manifest)
        return manifest
    finally:
        lock.close()
