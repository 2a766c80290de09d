"""Integrity of results stores: chunk checksums, the completion record as authority, full scans.

Every array dse writes (``dse-results/2``) ends its codec chain with Zarr v3's
``crc32c`` codec and is written with ``write_empty_chunks``, so every chunk of
a completed block exists and carries a checksum. :class:`CheckedStore` wraps
the Zarr store that every reader goes through (:func:`dse.store.open_results`)
and turns any damaged chunk into one :class:`DamagedChunkError` line naming the
variable, the chunk and the scenario, before a single number is decoded:

* a chunk whose checksum fails (flipped bytes, truncation);
* a chunk missing from a block the completion record marks done (it would
  otherwise read as the fill value, NaN);
* a directory, symbolic link or other non-regular file where a chunk should be
  (never written by dse; a link would read another file's bytes).

:func:`scan_store` reads every chunk (``dse validate --full``, and
``dse sweep --resume`` to find the blocks to evaluate again).

>>> chunk_key("li/cycle_life/c/3/0")
('li/cycle_life', (3, 0))
>>> chunk_key("li/zarr.json") is None
True
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass

import google_crc32c
import numpy as np
from zarr.abc.store import ByteRequest
from zarr.core.buffer import Buffer, BufferPrototype
from zarr.core.sync import sync
from zarr.storage import LocalStore, WrapperStore

from dse.errors import StoreError

__all__ = [
    "CHECKSUM",
    "CheckedStore",
    "DamagedChunkError",
    "Damage",
    "Scan",
    "chunk_key",
    "scan_store",
    "has_checksum",
    "clear_foreign",
]

#: name of the checksum codec in Zarr v3 array metadata
CHECKSUM = "crc32c"
#: group of the completion record; its missing chunks mean "not done", never damage
DSE_GROUP = "_dse"


class DamagedChunkError(StoreError):
    """A chunk of a store fails its checksum, is missing from a completed block, or is not a regular file."""


@dataclass(frozen=True)
class Damage:
    """One damaged chunk found by :func:`scan_store`."""

    scenario: str
    group: str
    chunk: str  # key relative to the scenario's group, e.g. "cycle_life/c/3"
    why: str
    block: int | None  # block of the scenario it belongs to, None for coordinates and records

    def line(self, path: str) -> str:
        """The one-line message of this damage, for the store at ``path``."""
        return damage_message(path, self.scenario, self.chunk, self.why, self.block is not None)


#: arrays written after the sweep (dse pareto), not by its blocks
DERIVED = ("pareto_front", "pareto_probability")


def damage_message(path: str, scenario: str, chunk: str, why: str, block_aligned: bool) -> str:
    """The one line that names a damaged chunk and the command that repairs it."""
    if chunk.partition("/")[0] in DERIVED:
        fix = f"run 'dse pareto {path}' again to recompute it"
    elif block_aligned:
        fix = f"run 'dse sweep SPEC -o {path} --resume' to recompute it"
    else:
        fix = f"it is not part of a block: rewrite the store with 'dse sweep SPEC -o {path} --overwrite'"
    return f"chunk {chunk} of scenario {scenario!r} is damaged ({why}); {fix}"


def chunk_key(key: str) -> tuple[str, tuple[int, ...]] | None:
    """(array path, chunk coordinates) of a Zarr v3 chunk key, None for metadata and other keys."""
    parts = key.split("/")
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "c" and all(p.isdigit() for p in parts[i + 1 :]):
            return "/".join(parts[:i]), tuple(int(p) for p in parts[i + 1 :])
        if not parts[i].isdigit():
            return None
    return None


def has_checksum(codecs: list) -> bool:
    """Whether a Zarr v3 codec list (metadata JSON) ends with the checksum codec."""
    names = [c if isinstance(c, str) else c.get("name") for c in codecs]
    return bool(names) and names[-1] == CHECKSUM


@dataclass(frozen=True)
class _ArrayInfo:
    checksum: bool
    group: str
    name: str
    block_grid: tuple[int, ...] | None  # the scenario's block grid when the array is chunked by block
    decompressors: tuple[str, ...] = ()  # without a checksum: the compressors to try, last applied first
    chunk_bytes: int | None = None  # decoded size of a chunk of a fixed-size dtype


def _decompressor(name: str):
    import numcodecs

    return {"blosc": numcodecs.blosc.decompress, "zstd": numcodecs.Zstd().decode, "gzip": numcodecs.GZip().decode}.get(
        name
    )


def _plain_layout(meta: dict) -> tuple[tuple[str, ...], int | None]:
    """Compressors of an array without a checksum (decoded to test a chunk) and its decoded chunk size."""
    names = [c if isinstance(c, str) else c.get("name") for c in meta.get("codecs", [])]
    tail = []
    for name in reversed(names):
        if _decompressor(name) is None:
            break
        tail.append(name)
    size = None
    chunks = meta.get("chunk_grid", {}).get("configuration", {}).get("chunk_shape")
    if chunks is not None and len(names) == len(tail) + 1 and names[0] == "bytes":
        try:
            size = math.prod(chunks) * np.dtype(str(meta.get("data_type"))).itemsize
        except TypeError:
            size = None
    return tuple(tail), size


def _decodes(raw: bytes, info: _ArrayInfo) -> str | None:
    """Why the bytes of a chunk without a checksum cannot be decoded, or None."""
    data = raw
    for name in info.decompressors:
        try:
            data = bytes(_decompressor(name)(data))
        except Exception as exc:  # numcodecs raises RuntimeError, ValueError, zstd/zlib errors
            return f"cannot be decompressed by {name}: {str(exc)[:60] or exc.__class__.__name__}"
    if info.chunk_bytes is not None and len(data) != info.chunk_bytes:
        return f"decodes to {len(data)} bytes instead of {info.chunk_bytes}"
    return None


def _crc_ok(raw: np.ndarray) -> bool:
    if raw.size < 4:
        return False
    return google_crc32c.value(raw[:-4]) == int.from_bytes(raw[-4:].tobytes(), "little")  # no copy of the chunk


class CheckedStore(WrapperStore):
    """A Zarr store that refuses damaged chunks of a dse store (see the module docstring).

    Parameters
    ----------
    store : zarr.abc.store.Store
        The store to read (a LocalStore or an FsspecStore).
    label : str
        The store's path or URL, for messages.
    groups : mapping, optional
        Scenario name → Zarr group (the ``dse_groups`` root attribute).
    completed : mapping, optional
        Zarr group → completion record. Without a scenario's record, a
        missing chunk of a block is read as its fill value (the record cannot
        say whether the block was written).
    """

    def __init__(
        self,
        store,
        label: str,
        groups: Mapping[str, str] | None = None,
        completed: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        super().__init__(store)
        self._label = label
        self._groups = dict(groups or {})
        self._completed = {g: np.asarray(v) for g, v in (completed or {}).items()}
        self._info: dict[str, _ArrayInfo | None] = {}

    def _with_store(self, store) -> CheckedStore:
        return type(self)(store, self._label, self._groups, self._completed)

    def __getstate__(self) -> dict:
        return {"store": self._store, "label": self._label, "groups": self._groups, "completed": self._completed}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["store"], state["label"], state["groups"], state["completed"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CheckedStore) and self._store == other._store

    def __hash__(self) -> int:
        return hash(("CheckedStore", self._label))

    def scenario_of(self, group: str) -> str:
        """The scenario whose group is ``group`` (the group's own name, or "/", when none is)."""
        for name, g in self._groups.items():
            if g == group:
                return name
        return group or "/"

    async def _json(self, key: str) -> dict:
        from zarr.core.buffer import default_buffer_prototype

        buf = await self._store.get(key, default_buffer_prototype())
        if buf is None:
            return {}
        try:
            doc = json.loads(buf.to_bytes())
        except ValueError:
            return {}
        return doc if isinstance(doc, dict) else {}

    async def array_info(self, array: str) -> _ArrayInfo | None:
        """What the checks need to know of an array (cached), None when ``array`` is not one."""
        if array not in self._info:
            meta = await self._json(f"{array}/zarr.json" if array else "zarr.json")
            info = None
            if meta.get("node_type") == "array":
                group, _, name = array.rpartition("/")
                if group.rpartition("/")[2] == DSE_GROUP:  # the completion record: one entry per block
                    block_grid = tuple(meta.get("shape", ()))
                    group = group.rpartition("/")[0]
                    name = f"{DSE_GROUP}/{name}"
                else:
                    attrs = (await self._json(f"{group}/zarr.json" if group else "zarr.json")).get("attributes", {})
                    chunks = meta.get("chunk_grid", {}).get("configuration", {}).get("chunk_shape")
                    aligned = (
                        attrs.get("dse_dims") is not None
                        and meta.get("dimension_names") == attrs["dse_dims"]
                        and chunks == attrs.get("dse_chunks")
                    )
                    block_grid = tuple(attrs["dse_block_grid"]) if aligned else None
                checksum = has_checksum(meta.get("codecs", []))
                plain = ((), None) if checksum else _plain_layout(meta)
                info = _ArrayInfo(checksum, group, name, block_grid, *plain)
            self._info[array] = info
        return self._info[array]

    def _foreign(self, key: str) -> str | None:
        """What stands where a chunk file should be, when it is not a regular file (local stores)."""
        if not isinstance(self._store, LocalStore):
            return None
        try:
            mode = os.lstat(os.path.join(self._store.root, key)).st_mode
        except OSError:
            return None
        if stat.S_ISLNK(mode):
            return "a symbolic link stands in place of the chunk file"
        if stat.S_ISDIR(mode):
            return "a directory stands in place of the chunk file"
        if not stat.S_ISREG(mode):
            return "not a regular file"
        return None

    def block_of(self, info: _ArrayInfo, coords: tuple[int, ...]) -> int | None:
        """The sweep block a chunk at ``coords`` lies in; None when the array's chunks are not the blocks."""
        if info.block_grid is None or len(coords) != len(info.block_grid):
            return None
        if any(c >= n for c, n in zip(coords, info.block_grid, strict=True)):
            return None
        return int(np.ravel_multi_index(coords, info.block_grid))

    def _must_exist(self, info: _ArrayInfo, coords: tuple[int, ...]) -> bool:
        if info.name.startswith(f"{DSE_GROUP}/"):
            return False  # the completion record: a missing entry is a block not written yet
        if info.block_grid is None:
            return True  # coordinates and scalars are written with the template
        done = self._completed.get(info.group)
        block = self.block_of(info, coords)
        return done is not None and block is not None and block < done.size and bool(done[block])

    def damaged(self, info: _ArrayInfo, array: str, coords: tuple[int, ...], why: str) -> DamagedChunkError:
        """The error for a damaged chunk, naming the store, scenario, chunk and why, with its :class:`Damage`."""
        rel = array[len(info.group) + 1 :] if info.group else array
        chunk = f"{rel}/c" + "".join(f"/{c}" for c in coords)
        aligned = self.block_of(info, coords) is not None
        err = DamagedChunkError(
            damage_message(self._label, self.scenario_of(info.group), chunk, why, aligned), where=self._label
        )
        err.damage = Damage(self.scenario_of(info.group), info.group, chunk, why, self.block_of(info, coords))
        return err

    async def get(
        self, key: str, prototype: BufferPrototype | None = None, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        """A key's bytes, a chunk's checked first: its checksum (or, without checksums, that it decodes), and that a chunk of a completed block exists."""
        parsed = chunk_key(key)
        if parsed is None or byte_range is not None:
            return await self._store.get(key, prototype, byte_range)
        array, coords = parsed
        info = await self.array_info(array)
        if info is None:
            return await self._store.get(key, prototype, byte_range)
        foreign = self._foreign(key)
        if foreign:
            raise self.damaged(info, array, coords, foreign)
        buf = await self._store.get(key, prototype, byte_range)
        if buf is None:
            if info.checksum and self._must_exist(info, coords):
                raise self.damaged(info, array, coords, "missing, though its block is recorded as done")
            return None
        if info.checksum:
            if not _crc_ok(buf.as_numpy_array()):
                raise self.damaged(info, array, coords, "checksum mismatch")
        elif info.decompressors or info.chunk_bytes:  # dse-results/1: at least the bytes must decode
            why = _decodes(buf.to_bytes(), info)
            if why:
                raise self.damaged(info, array, coords, f"{why}; the store has no checksums")
        return buf


# --------------------------------------------------------------------------- scans
def _arrays(group) -> list:
    """Every array of a scenario group, the completion record included."""
    out = [arr for _, arr in sorted(group.arrays(), key=lambda kv: kv[0])]
    if DSE_GROUP in group:
        out += [arr for _, arr in sorted(group[DSE_GROUP].arrays(), key=lambda kv: kv[0])]
    return out


def _read_chunk(store: CheckedStore, arr, coords: tuple[int, ...], decode: bool):
    """One chunk's values (``decode``) or raw bytes; raises DamagedChunkError."""
    if decode:
        return arr.get_block_selection(coords)
    key = arr.metadata.encode_chunk_key(coords)
    return sync(store.get(f"{arr.path}/{key}" if arr.path else key))


@dataclass
class Scan:
    """What :func:`scan_store` found."""

    damage: list[Damage]
    problems: list[str]
    completed: dict[str, np.ndarray]  # scenario → completion record, damaged entries read as 0


def scan_store(
    path: str, storage_options: Mapping | None = None, decode: bool = True, blocks_only: bool = False
) -> Scan:
    """Read every chunk of every array of a store; the damaged chunks and other problems found.

    Parameters
    ----------
    path : str
        Store path or URL.
    storage_options : mapping, optional
        fsspec options of a remote store.
    decode : bool, default True
        Decompress every chunk (``dse validate --full``); False checks
        presence, file type and checksum only (``dse sweep --resume``).
    blocks_only : bool, default False
        Skip coordinates, scalars and the completion record.

    Returns
    -------
    Scan
        ``damage``: one entry per damaged chunk (a damaged completion-record
        entry counts as a damaged block, ``block`` set); ``problems``: other
        inconsistencies (``feasible`` disagreeing with ``infeasible_reason``
        in a completed block); ``completed``: the completion records.
    """
    import zarr

    from dse.store.format import COMPLETED, zarr_store
    from dse.store.reading import read_root_attrs

    attrs = read_root_attrs(path, storage_options)
    groups = attrs.get("dse_groups", {})
    base = zarr_store(path, storage_options, read_only=True)
    damage: list[Damage] = []
    problems: list[str] = []
    records: dict[str, np.ndarray] = {}
    for scenario, group in groups.items():
        probe = CheckedStore(base, path, groups)
        root = zarr.open_group(probe, mode="r", zarr_format=3, use_consolidated=False)
        g = root[group] if group else root
        done, record_damage = _read_record(probe, g, COMPLETED)
        damage += record_damage
        if done is not None:
            records[scenario] = done
        store = CheckedStore(base, path, groups, {group: done} if done is not None else {})
        root = zarr.open_group(store, mode="r", zarr_format=3, use_consolidated=False)
        g = root[group] if group else root
        for arr in _arrays(g):
            if arr.path.endswith(COMPLETED):
                continue
            info = sync(store.array_info(arr.path))
            if blocks_only and (info is None or info.block_grid is None):
                continue
            for coords in np.ndindex(*arr.cdata_shape) if arr.ndim else [()]:
                try:
                    _read_chunk(store, arr, coords, decode)
                except DamagedChunkError as exc:
                    damage.append(exc.damage)
                except Exception as exc:  # undecodable bytes of a store without checksums
                    if info is None:
                        raise
                    damage.append(
                        store.damaged(info, arr.path, coords, f"cannot be decoded: {exc.__class__.__name__}").damage
                    )
        if decode and done is not None and {"feasible", "infeasible_reason"} <= set(g.array_keys()):
            problems += _feasible_agrees(g, done, scenario, {d.block for d in damage if d.group == group})
    return Scan(damage, problems, records)


def clear_foreign(path: str, damage: Damage) -> None:
    """Remove a symbolic link or an empty directory standing where a chunk file should be (local stores).

    The link itself is removed, never its target. A directory holding files
    is left alone: dse did not write them.

    Raises
    ------
    StoreError
        The directory is not empty.
    """
    if "://" in path or "stands in place" not in damage.why:
        return
    where = os.path.join(path, damage.group, damage.chunk) if damage.group else os.path.join(path, damage.chunk)
    if os.path.islink(where):
        os.unlink(where)
        return
    try:
        os.rmdir(where)
    except OSError:
        raise StoreError(
            f"chunk {damage.chunk} of scenario {damage.scenario!r} is a directory that holds files "
            "dse did not write; move it away, then rerun with --resume",
            where=path,
        ) from None


def _read_record(store: CheckedStore, g, completed: str) -> tuple[np.ndarray | None, list[Damage]]:
    """A scenario's completion record read entry by entry: damaged entries count as not done (and as damage)."""
    try:
        arr = g[completed]
    except KeyError:
        return None, []
    done = np.zeros(arr.shape, dtype=np.uint8)
    damage = []
    for b in range(arr.shape[0]):
        try:
            done[b] = arr[b]
        except DamagedChunkError as exc:
            damage.append(Damage(exc.damage.scenario, exc.damage.group, exc.damage.chunk, exc.damage.why, b))
    return done, damage


def _feasible_agrees(g, done: np.ndarray, scenario: str, damaged: set) -> list[str]:
    """``feasible == (infeasible_reason == 0)`` in every completed, undamaged block."""
    feasible, reason = g["feasible"], g["infeasible_reason"]
    grid = feasible.cdata_shape
    out = []
    for b in np.flatnonzero(done):
        if int(b) in damaged or b >= math.prod(grid):
            continue
        coords = np.unravel_index(int(b), grid)
        f = feasible.get_block_selection(coords)
        r = reason.get_block_selection(coords)
        if not np.array_equal(f, r == 0):
            n = int((f != (r == 0)).sum())
            out.append(
                f"scenario {scenario!r}: block {int(b)}: 'feasible' disagrees with 'infeasible_reason' in {n} design(s)"
            )
    return out
