"""Checkpoints of a refinement: its whole state after every level, in ``STORE.dse-refine/state.npz``.

A rerun for the same spec and options continues from the last finished
level with the same result, bit for bit; :func:`read_checkpoint` refuses a
checkpoint of another spec or other options, or a damaged one, and nothing
is deleted but the files dse wrote (:func:`remove_checkpoint`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dse.errors import StoreError
from dse.spec import SweepSpec

__all__ = [
    "Checkpoint",
    "checkpoint_dir",
    "read_checkpoint",
    "remove_checkpoint",
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_FILE",
]

#: format of a refinement checkpoint (``state.npz`` in :func:`checkpoint_dir`)
CHECKPOINT_FORMAT = "dse-refine-checkpoint/1"
CHECKPOINT_FILE = "state.npz"


@dataclass
class Checkpoint:
    """The state of a refinement after a completed level (see :func:`read_checkpoint`)."""

    level: int  # the next level to run
    front: np.ndarray
    ref: np.ndarray | None
    previous: float | None
    stopped: str | None  # set when the last saved level ended the refinement (tolerance)
    history: list[dict]
    seconds: float
    scenarios: list[dict[str, np.ndarray]]  # per scenario, :meth:`_Scenario.state`

    @property
    def evaluated(self) -> int:
        """Designs evaluated before the checkpoint, over every scenario."""
        return int(sum(a["flats"].size for a in self.scenarios))


def checkpoint_dir(store: str) -> Path | None:
    """The folder beside a local store where its refinement is checkpointed; None for remote stores.

    >>> str(checkpoint_dir("runs/ref.zarr/"))
    'runs/ref.zarr.dse-refine'
    >>> checkpoint_dir("s3://bucket/ref.zarr") is None
    True
    """
    if "://" in str(store):
        return None
    return Path(f"{str(store).rstrip('/')}.dse-refine")


def _options_identity(senses: Mapping[str, str], options: Mapping) -> dict:
    return {"objectives": [[n, s] for n, s in senses.items()], **{k: options[k] for k in sorted(options)}}


def _options_hash(senses: Mapping[str, str], options: Mapping) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(_options_identity(senses, options), sort_keys=True).encode()).hexdigest()


def _save_checkpoint(
    store: str, spec: SweepSpec, senses, options, states, *, level, front, ref, previous, stopped, history, seconds
) -> None:
    """Write the whole state in one file, atomically: a reader sees the previous level's or this one's."""
    import io

    from dse.atomic import write_atomic

    folder = checkpoint_dir(store)
    if folder is None:
        return
    header = {
        "format": CHECKPOINT_FORMAT,
        "store": str(store),
        "spec_hash": spec.hash(),
        "options_hash": _options_hash(senses, options),
        "options": _options_identity(senses, options),
        "scenarios": [s.name for s in states],
        "level": level,
        "ref": None if ref is None else [float(v) for v in ref],
        "previous": previous,
        "stopped": stopped,
        "history": history,
        "seconds": seconds,
    }
    arrays = {"header": np.frombuffer(json.dumps(header).encode(), np.uint8), "front": front}
    for i, s in enumerate(states):
        arrays.update({f"{i}/{key}": value for key, value in s.state().items()})
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # a zip with a CRC-32 per array: damage is found on reading
    folder.mkdir(exist_ok=True)
    write_atomic(folder / CHECKPOINT_FILE, buffer.getvalue())


def _damaged(store: str, why: str) -> StoreError:
    return StoreError(
        f"the refinement checkpoint {checkpoint_dir(store)} is damaged ({why}); rerun with --overwrite to start over",
        where=str(store),
    )


def _check_folder(store: str, folder: Path) -> None:
    """Refuse a file or a link where the checkpoint folder goes: dse neither reads nor deletes it."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise StoreError(
            f"{folder} is in the way of the refinement checkpoint (not a folder dse made); remove or rename it",
            where=str(store),
        )


def read_checkpoint(store: str, spec: SweepSpec, senses: Mapping[str, str], options: Mapping) -> Checkpoint | None:
    """The checkpoint an interrupted refinement left for ``store``, checked against this spec and options.

    Returns
    -------
    Checkpoint or None
        None when there is none (no folder, or a folder without a state
        file: the run was interrupted before its first level ended).

    Raises
    ------
    StoreError
        One line naming the store: the checkpoint was written for another
        spec or other options (saying which), or it is damaged (unreadable,
        truncated, inconsistent). Nothing is deleted.
    """
    import zipfile

    folder = checkpoint_dir(store)
    if folder is None or not (folder.exists() or folder.is_symlink()):
        return None
    _check_folder(store, folder)
    path = folder / CHECKPOINT_FILE
    if not path.exists():
        return None
    try:
        # the file is opened here, not by np.load, so that it is closed when a damaged file makes np.load
        # raise (np.load leaves its own file open then); it never pickles: allow_pickle is False by default
        with open(path, "rb") as fh, np.load(fh) as npz:
            arrays = {key: npz[key] for key in npz.files}  # reading checks each array's CRC-32
        header = json.loads(arrays.pop("header").tobytes())
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise _damaged(store, f"{exc.__class__.__name__}: {str(exc)[:80]}") from None
    if not isinstance(header, dict) or header.get("format") != CHECKPOINT_FORMAT:
        raise _damaged(store, f"not a {CHECKPOINT_FORMAT} file")
    if header.get("spec_hash") != spec.hash():
        names = [sc.name for sc in spec.scenarios]
        what = (
            f"scenarios {header.get('scenarios')} ≠ {names}"
            if header.get("scenarios") != names
            else f"spec hash {str(header.get('spec_hash'))[:12]} ≠ {spec.hash()[:12]}"
        )
        raise StoreError(
            f"an interrupted refinement of another spec is checkpointed in {folder} ({what}); "
            "rerun with --overwrite to start over",
            where=str(store),
        )
    if header.get("options_hash") != _options_hash(senses, options):
        old, now = header.get("options") or {}, _options_identity(senses, options)
        what = ", ".join(f"{key} {old.get(key)!r} → {now[key]!r}" for key in now if old.get(key) != now[key])
        raise StoreError(
            f"an interrupted refinement with other options is checkpointed in {folder} "
            f"({what or 'options hash differs'}); rerun with the same options to resume it, or with "
            "--overwrite to start over",
            where=str(store),
        )
    try:
        checkpoint = _checked(header, arrays, spec, len(senses))
    except (KeyError, TypeError, ValueError) as exc:
        raise _damaged(store, f"{exc.__class__.__name__}: {str(exc)[:80]}") from None
    return checkpoint


def _checked(header: dict, arrays: dict, spec: SweepSpec, k: int) -> Checkpoint:
    """A :class:`Checkpoint` from a read file, after checking every array's dtype, shape and range."""

    def need(ok: bool, what: str) -> None:
        if not ok:
            raise ValueError(what)

    scenarios = []
    for i, sc in enumerate(spec.scenarios):
        a = {key: arrays[f"{i}/{key}"] for key in ("flats", "values", "level", "lo", "hi", "corners", "pending")}
        shape = tuple(len(ax.values) for ax in sc.axes)
        d = sum(1 for ax in sc.axes if not ax.categorical and len(ax.values) > 1)
        n, known = a["flats"].size, a["flats"].size + a["pending"].size
        need(
            a["flats"].dtype == np.int64
            and a["pending"].dtype == np.int64
            and a["level"].dtype == np.int16
            and a["values"].dtype == np.float32
            and a["lo"].dtype == a["hi"].dtype == a["corners"].dtype == np.int32,
            f"scenario {sc.name!r}: unexpected dtypes",
        )
        need(
            a["values"].shape == (n, k + 1) and a["level"].shape == (n,) and a["pending"].ndim == 1,
            f"scenario {sc.name!r}: designs and values differ in length",
        )
        cells = a["lo"].shape[0]
        need(
            a["lo"].shape == a["hi"].shape == (cells, len(shape)) and a["corners"].shape == (cells, 1 << d),
            f"scenario {sc.name!r}: cells of the wrong shape",
        )
        flats = np.concatenate([a["flats"], a["pending"]])
        need(bool(((flats >= 0) & (flats < math.prod(shape))).all()), f"scenario {sc.name!r}: a point off the grid")
        need(bool(((a["corners"] >= 0) & (a["corners"] < known)).all()), f"scenario {sc.name!r}: a corner unknown")
        need(
            bool(((a["lo"] >= 0) & (a["lo"] <= a["hi"]) & (a["hi"] < np.array(shape))).all()),
            f"scenario {sc.name!r}: a cell off the grid",
        )
        scenarios.append(a)
    front = arrays["front"]
    need(front.dtype == np.float64 and front.ndim == 2 and front.shape[1] == k, "front of the wrong shape")
    ref = header["ref"]
    need(ref is None or len(ref) == k, "reference of the wrong length")
    stopped = header["stopped"]
    need(stopped in (None, "tolerance"), f"unknown stop {stopped!r}")
    level, history = header["level"], header["history"]
    need(
        isinstance(level, int) and level >= 1 and isinstance(history, list) and len(history) == level,
        "level and history disagree",
    )
    return Checkpoint(
        level=level,
        front=front,
        ref=None if ref is None else np.asarray(ref, np.float64),
        previous=header["previous"],
        stopped=stopped,
        history=history,
        seconds=float(header["seconds"]),
        scenarios=scenarios,
    )


def remove_checkpoint(store: str) -> None:
    """Remove the checkpoint folder of ``store``: only the files dse writes there, then the folder if empty.

    Called once the final store is in place, and by ``--overwrite``; a folder
    that holds anything else is left (with that content) rather than deleted.
    """
    import contextlib

    folder = checkpoint_dir(store)
    if folder is None or not (folder.exists() or folder.is_symlink()):
        return
    _check_folder(store, folder)
    for entry in folder.iterdir():
        # the state file and write_atomic's leftovers of an interrupted write (.state.npz.XXXX.tmp)
        if entry.name == CHECKPOINT_FILE or (
            entry.name.startswith(f".{CHECKPOINT_FILE}.") and entry.name.endswith(".tmp")
        ):
            entry.unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()
