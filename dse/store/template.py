"""Results stores: Zarr v3 written by xarray, as specified in docs/results-spec.md.

A sweep writes a *template* first (metadata, coordinates, empty chunked
variables, a completion record), then every block writes its region and
marks itself complete. ``--resume`` skips completed blocks; a store whose
spec hash differs is refused. One scenario lives at the root group; several
scenarios live in one group each.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
import yaml
import zarr
from zarr.codecs import BloscCodec, Crc32cCodec

from dse import __version__
from dse.design import DesignSpace
from dse.errors import StoreError
from dse.models.feasibility import REASONS
from dse.vocabulary import INPUTS, OUTPUTS

__all__ = [
    "FORMAT",
    "create_store",
    "open_results",
    "write_block",
    "completed_blocks",
    "check_target",
    "store_size",
    "finalize_store",
    "read_root_attrs",
    "scenario_groups",
    "is_remote",
    "Completeness",
    "completeness",
    "require_complete",
    "store_state",
    "derived_variables",
    "remove_derived",
    "STATE_ATTR",
]

FORMAT = "dse-results/2"
#: formats this version reads: ``dse-results/1`` stores (no chunk checksums) open read-only as before
READABLE_FORMATS = ("dse-results/1", FORMAT)
COMPLETED = "_dse/completed"
COMPRESSOR = {"cname": "lz4", "clevel": 5, "shuffle": "shuffle"}


def is_remote(path: str) -> bool:
    return "://" in str(path)


def zarr_store(path: str, storage_options: Mapping | None = None, read_only: bool = False):
    """A zarr store object for a local path or an fsspec URL."""
    if is_remote(path):
        from zarr.storage import FsspecStore

        return FsspecStore.from_url(str(path), storage_options=dict(storage_options or {}), read_only=read_only)
    from zarr.storage import LocalStore

    return LocalStore(str(path), read_only=read_only)


def _consolidate(path: str, storage_options: Mapping | None) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # consolidated metadata is not yet in the v3 spec
        zarr.consolidate_metadata(zarr_store(path, storage_options))


def _compressors():
    """Bytes-to-bytes codecs of every array: Blosc, then a CRC-32C of the compressed bytes (dse.integrity)."""
    return [BloscCodec(**COMPRESSOR), Crc32cCodec()]


#: array configuration of every write: chunks equal to the fill value are written too, so that a missing
#: chunk of a completed block is damage, never a block of fill values (dse.integrity)
WRITE_CONFIG = {"write_empty_chunks": True}


def git_commit() -> str:
    """Commit of the dse source tree, or "" outside a git checkout."""
    try:
        root = Path(__file__).resolve().parents[1]
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def _output_attrs(name: str) -> dict:
    from dse.evaluate import EXTRA_UNITS

    var = OUTPUTS.get(name)
    attrs = {"units": var.units if var else EXTRA_UNITS.get(name, ""),
             "long_name": var.long_name if var else name.replace("_", " ")}
    if var is not None and var.sense:
        attrs["dse_sense"] = var.sense
    if name == "infeasible_reason":
        attrs = {"long_name": var.long_name, "units": "1", "flag_masks": list(REASONS),
                 "flag_meanings": " ".join(n for n, _ in REASONS.values())}
    if name == "feasible":
        attrs = {"long_name": "Feasible design", "units": "1"}
    return attrs


def _input_attrs(name: str) -> dict:
    var = INPUTS[name]
    attrs = {"long_name": var.long_name, "dse_role": "input"}
    if var.categorical:
        attrs["dse_catalogue"] = var.catalogue
    else:
        attrs["units"] = var.units
    return attrs


def template_dataset(space: DesignSpace, outputs: tuple[str, ...], chain) -> tuple[xr.Dataset, dict]:
    """The lazy template of one scenario and its Zarr encoding."""
    import dask.array as da

    dims, shape, chunks = space.dims, space.shape, space.chunks
    coords: dict = {}
    for name, values in space.coords.items():
        coords[name] = xr.Variable(name, values, attrs=_input_attrs(name) if name in INPUTS else
                                   {"long_name": "design index"})
    sampled = {x.name for x in space.scenario.sampled}
    for name, value in space.scenario.fixed.items():
        if name in dims or name in sampled:
            continue
        coords[name] = xr.Variable((), np.array(value, dtype=object) if INPUTS[name].categorical else value,
                                   attrs=_input_attrs(name))
    data_vars: dict = {}
    encoding: dict = {}
    for name in outputs:
        if name == "infeasible_reason":
            dtype, fill = np.uint16, 0
        else:
            dtype, fill = np.float32, np.nan
        data_vars[name] = xr.Variable(dims, da.zeros(shape, chunks=chunks, dtype=dtype), attrs=_output_attrs(name))
        encoding[name] = {"chunks": chunks, "compressors": _compressors(), "fill_value": fill}
    data_vars["feasible"] = xr.Variable(dims, da.zeros(shape, chunks=chunks, dtype=bool), attrs=_output_attrs("feasible"))
    encoding["feasible"] = {"chunks": chunks, "compressors": _compressors(), "fill_value": False}
    for x in space.scenario.sampled:
        attrs = _input_attrs(x.name)
        if x.choices is not None and INPUTS[x.name].categorical:
            attrs.update({"flag_values": list(range(len(x.choices))), "flag_meanings": " ".join(x.choices),
                          "dse_categories": list(x.choices)})
            var = xr.Variable(dims, da.zeros(shape, chunks=chunks, dtype=np.int16), attrs=attrs)
            encoding[x.name] = {"chunks": chunks, "compressors": _compressors(), "fill_value": -1}
        else:
            var = xr.Variable(dims, da.zeros(shape, chunks=chunks, dtype=np.float64), attrs=attrs)
            encoding[x.name] = {"chunks": chunks, "compressors": _compressors(), "fill_value": np.nan}
        data_vars[x.name] = var
    attrs = {
        "dse_scenario": space.scenario.name,
        "dse_kind": space.kind,
        "dse_dims": list(dims),
        "dse_chunks": list(chunks),
        "dse_block_grid": list(space.block_grid),
        "dse_n_designs": space.n_designs,
        "dse_description": space.scenario.description,
        **chain.attrs(),
    }
    if space.scenario.sampler is not None:
        sampler = space.scenario.sampler
        attrs.update({"dse_sampler": sampler.method, "dse_sampler_n": sampler.n, "dse_sampler_seed": sampler.seed,
                      "dse_sampled_inputs": [x.name for x in space.scenario.sampled]})
    for name in coords:  # coordinates and fixed inputs carry the checksum too
        encoding[name] = {"compressors": _compressors()}
    return xr.Dataset(data_vars, coords=coords, attrs=attrs), encoding


def check_target(path: str, resume: bool, overwrite: bool, storage_options: Mapping | None = None) -> bool:
    """Decide what to do with the output path before anything is written.

    Returns True when an existing store should be resumed.

    Raises
    ------
    StoreError
        The path is a file, exists without ``--resume``/``--overwrite``, is
        not a store that ``--overwrite`` may delete (:func:`dse.safety.check_deletable`),
        or its parent is not writable.
    """
    from dse.safety import check_deletable

    if is_remote(path):
        import fsspec

        fs, root = fsspec.core.url_to_fs(path, **(storage_options or {}))
        exists = fs.exists(root)
        if exists and not (resume or overwrite):
            raise StoreError("already exists; use --resume to finish it or --overwrite to replace it", where=path)
        if exists and overwrite:
            check_deletable(path, storage_options, "--overwrite")
        return exists and resume
    p = Path(path)
    if overwrite:
        check_deletable(path, None, "--overwrite")
    if p.exists() and not p.is_dir():
        raise StoreError("is a file, not a Zarr store directory", where=path)
    if p.exists():
        if resume:
            return True
        if overwrite:
            return False
        raise StoreError("already exists; use --resume to finish it or --overwrite to replace it", where=path)
    if resume:
        raise StoreError("nothing to resume: the store does not exist (run the sweep without --resume)", where=path)
    parent = p.resolve().parent
    if not parent.exists():
        raise StoreError(f"parent directory {parent} does not exist", where=path)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StoreError(f"cannot write to {parent} (permission denied)", where=path)
    return False


def scenario_groups(spec) -> dict[str, str]:
    """Zarr group of each scenario: the root for a single scenario."""
    if len(spec.scenarios) == 1:
        return {spec.scenarios[0].name: ""}
    return {s.name: s.name for s in spec.scenarios}


def create_store(path: str, spec, spaces: dict[str, DesignSpace], chains: dict, overwrite: bool = False,
                 storage_options: Mapping | None = None) -> None:
    """Write the template of every scenario, the completion record and the provenance.

    The template is written beside ``path`` (``OUT.zarr.new-XXXXXXXX``) and
    moved to ``path`` only once it is complete, so that a failed or
    interrupted start leaves ``path`` as it was: missing, or (with
    ``overwrite``) the old store, which is deleted only after
    :func:`dse.safety.check_deletable` allowed it. Local paths: two renames
    (old store aside, new one in), then the old store is deleted. Object
    storage has no rename: the old store is deleted and the template's few
    objects are copied in (docs/results-spec.md, "Replacing a store").
    """
    from dse.safety import sibling_path

    tmp = sibling_path(path, "new")
    try:
        _write_template(tmp, spec, spaces, chains, storage_options, where=path)
    except BaseException:
        _discard(tmp, storage_options)
        raise
    try:
        _swap_in(tmp, path, overwrite, storage_options)
    finally:
        _discard(tmp, storage_options)


def _discard(tmp: str, storage_options: Mapping | None) -> None:
    """Remove a temporary template this process created (best effort: never hides the original error)."""
    try:
        if is_remote(tmp):
            import fsspec

            fs, root = fsspec.core.url_to_fs(tmp, **(storage_options or {}))
            if fs.exists(root):
                fs.rm(root, recursive=True)
        elif Path(tmp).exists():
            shutil.rmtree(tmp)
    except Exception:
        pass


def _swap_in(tmp: str, path: str, overwrite: bool, storage_options: Mapping | None) -> None:
    """Put the complete template ``tmp`` at ``path``, replacing a deletable old store when ``overwrite``."""
    from dse.safety import check_deletable, sibling_path

    if overwrite:
        check_deletable(path, storage_options, "--overwrite")  # again: the target may have changed meanwhile
    if is_remote(path):
        import fsspec

        fs, root = fsspec.core.url_to_fs(path, **(storage_options or {}))
        _, tmp_root = fsspec.core.url_to_fs(tmp, **(storage_options or {}))
        root, tmp_root = root.rstrip("/"), tmp_root.rstrip("/")
        fs.invalidate_cache()  # listings cached before the template was written
        try:
            if fs.exists(root):
                if not overwrite:
                    raise StoreError("already exists; use --resume to finish it or --overwrite to replace it",
                                     where=path)
                fs.rm(root, recursive=True)
            # the root metadata first: a copy cut short is still recognised as a dse store, which
            # --overwrite may replace
            keys = sorted(fs.find(tmp_root), key=lambda k: k != f"{tmp_root}/zarr.json")
            for key in keys:
                fs.copy(key, root + key[len(tmp_root):])
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"cannot move the new template into place ({exc.__class__.__name__}: "
                             f"{str(exc)[:120]}); rerun with --overwrite", where=path) from None
        return
    old = None
    try:
        if Path(path).exists():
            if not overwrite:
                raise StoreError("already exists; use --resume to finish it or --overwrite to replace it",
                                 where=path)
            old = sibling_path(path, "old")
            os.rename(path, old)
        try:
            os.rename(tmp, path)
        except OSError:
            if old is not None:
                os.rename(old, path)  # put the old store back
                old = None
            raise
    except OSError as exc:
        raise StoreError(f"cannot move the new template into place ({exc.strerror or exc})", where=path) from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_template(path: str, spec, spaces: dict[str, DesignSpace], chains: dict,
                    storage_options: Mapping | None, where: str) -> None:
    """Write a whole template at ``path`` (a new, temporary location); errors name ``where``."""
    groups = scenario_groups(spec)
    first = True
    try:
        for name, group in groups.items():
            space = spaces[name]
            ds, encoding = template_dataset(space, spec.outputs, chains[name])
            ds.to_zarr(path, group=group or None, mode="w" if first else "a", compute=False, zarr_format=3,
                       consolidated=False, encoding=encoding, storage_options=storage_options,
                       write_empty_chunks=True)
            first = False
            root = zarr.open_group(zarr_store(path, storage_options), mode="r+", use_consolidated=False, zarr_format=3)
            g = root[group] if group else root
            g.require_group("_dse").create_array(
                "completed", shape=(space.n_blocks,), chunks=(1,), dtype="uint8", fill_value=0, overwrite=True,
                compressors=_compressors()
            )
        root = zarr.open_group(zarr_store(path, storage_options), mode="r+", use_consolidated=False, zarr_format=3)
        chain = next(iter(chains.values()))
        root.attrs.update({
            "Conventions": "CF-1.10",
            "title": spec.name,
            "dse_store_format": FORMAT,
            "dse_version": __version__,
            "dse_spec": spec.text,
            "dse_spec_hash": spec.hash(),
            "dse_scenarios": list(groups),
            "dse_groups": groups,
            "dse_ce_coefficients": yaml.safe_dump(chain.coefficients.model_dump(mode="json"), sort_keys=False),
            "dse_git_commit": git_commit(),
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "dse_status": "running",
            "dse_sweep_id": uuid.uuid4().hex,
            **chain.attrs(),
        })
        _consolidate(path, storage_options)
    except PermissionError as exc:
        raise StoreError(f"cannot write the store ({exc.strerror or 'permission denied'})", where=where) from None
    except OSError as exc:
        raise StoreError(f"cannot write the store ({exc.strerror or exc})", where=where) from None


def read_root_attrs(path: str, storage_options: Mapping | None = None) -> dict:
    """Root attributes of a store; foreign or broken stores raise StoreError."""
    try:
        root = zarr.open_group(zarr_store(path, storage_options, read_only=True), mode="r", zarr_format=3)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError):
        raise StoreError("not a Zarr store (no group metadata)", where=path) from None
    except Exception as exc:  # corrupted JSON and similar
        raise StoreError(f"cannot open as Zarr ({exc.__class__.__name__}: {str(exc)[:120]})", where=path) from None
    attrs = dict(root.attrs)
    if attrs.get("dse_store_format") not in READABLE_FORMATS:
        found = attrs.get("dse_store_format")
        what = f"format {found!r}" if found else "no dse_store_format attribute"
        raise StoreError(f"not a dse results store ({what}; expected {FORMAT!r})", where=path)
    return attrs


def completed_blocks(path: str, group: str, storage_options: Mapping | None = None) -> np.ndarray:
    """The completion record of a scenario (1 = block written); a damaged entry raises DamagedChunkError."""
    from dse.integrity import CheckedStore

    store = CheckedStore(zarr_store(path, storage_options, read_only=True), path)
    root = zarr.open_group(store, mode="r", zarr_format=3)
    g = root[group] if group else root
    try:
        return np.asarray(g[COMPLETED][:])
    except KeyError:
        raise StoreError("has no completion record (_dse/completed)", where=f"{path}/{group}") from None


def checked_store(path: str, attrs: Mapping, storage_options: Mapping | None = None):
    """The store every reader goes through: damaged chunks raise one line (:mod:`dse.integrity`).

    The completion record of each scenario is read first, so that a chunk
    missing from a block recorded as done is an error, not fill values.
    """
    from dse.integrity import CheckedStore

    base = zarr_store(path, storage_options, read_only=True)
    groups = dict(attrs.get("dse_groups", {}))
    root = zarr.open_group(CheckedStore(base, path, groups), mode="r", zarr_format=3)
    completed = {}
    for group in groups.values():
        try:
            g = root[group] if group else root
            completed[group] = np.asarray(g[COMPLETED][:])
        except KeyError:
            continue  # no record: missing chunks cannot be told from blocks not written (dse validate says so)
    return CheckedStore(base, path, groups, completed)


def _array(group, name: str):
    """An array of a group, opened to write every chunk (:data:`WRITE_CONFIG`)."""
    return group[name].with_config(WRITE_CONFIG)


def write_block(path: str, group: str, block: int, region: tuple[slice, ...], shape: tuple[int, ...],
                outputs: tuple[str, ...], values: np.ndarray, sampled: Mapping[str, np.ndarray],
                categories: Mapping[str, list], storage_options: Mapping | None = None) -> int:
    """Write one evaluated block to its region and mark it complete.

    Returns the number of feasible designs in the block.
    """
    root = zarr.open_group(zarr_store(path, storage_options), mode="r+", use_consolidated=False, zarr_format=3)
    g = root[group] if group else root
    reason = None
    for j, name in enumerate(outputs):
        data = values[j].reshape(shape)
        if name == "infeasible_reason":
            reason = data.astype(np.uint16)
            data = reason
        _array(g, name)[region] = data
    feasible = (reason == 0) if reason is not None else np.ones(shape, dtype=bool)
    _array(g, "feasible")[region] = feasible
    for name, vals in sampled.items():
        if name in categories:
            lookup = {c: i for i, c in enumerate(categories[name])}
            data = np.fromiter((lookup[str(v)] for v in vals), dtype=np.int16, count=len(vals))
        else:
            data = np.asarray(vals, dtype=np.float64)
        _array(g, name)[region] = data.reshape(shape)
    _array(g, COMPLETED)[block] = 1
    return int(feasible.sum())


def finalize_store(path: str, summary: Mapping, storage_options: Mapping | None = None) -> None:
    """Record the run summary, mark the store complete, consolidate metadata."""
    root = zarr.open_group(zarr_store(path, storage_options), mode="r+", use_consolidated=False, zarr_format=3)
    root.attrs.update({"dse_status": "complete", "dse_summary": json.loads(json.dumps(dict(summary), default=float))})
    _consolidate(path, storage_options)


def open_results(path: str, storage_options: Mapping | None = None, decode_categories: bool = False) -> dict[str, xr.Dataset]:
    """Open every scenario of a results store as a (lazy) xarray Dataset.

    Parameters
    ----------
    path : str
        Local path or URL (``s3://bucket/results.zarr``).
    storage_options : mapping, optional
        Passed to fsspec (e.g. ``{"endpoint_url": ...}``).
    decode_categories : bool, default False
        Replace coded categorical sample variables by their catalogue ids.
    """
    from dse.integrity import DamagedChunkError

    attrs = read_root_attrs(path, storage_options)
    store = checked_store(path, attrs, storage_options)
    out = {}
    for name, group in attrs.get("dse_groups", {}).items():
        try:
            ds = xr.open_zarr(store, group=group or None, consolidated=None, zarr_format=3)
        except DamagedChunkError:
            raise
        except Exception as exc:
            raise StoreError(f"cannot open scenario {name!r} ({exc.__class__.__name__})", where=path) from None
        if decode_categories:
            for var in list(ds.data_vars):
                cats = ds[var].attrs.get("dse_categories")
                if cats:
                    attrs = {k: v for k, v in ds[var].attrs.items()
                             if k not in ("dse_categories", "flag_values", "flag_meanings")}
                    decoded = ds[var].copy(data=decode_codes(ds[var].data, cats))
                    decoded.attrs = attrs
                    ds[var] = decoded
        out[name] = ds
    return out


def decode_codes(codes, categories):
    """Catalogue ids for int16 category codes (numpy or dask arrays)."""
    table = np.asarray(list(categories), dtype=object)
    if hasattr(codes, "map_blocks"):
        return codes.map_blocks(lambda c: table[np.asarray(c, dtype=np.int64)], dtype=object)
    return table[np.asarray(codes, dtype=np.int64)]


def store_size(path: str, storage_options: Mapping | None = None) -> int:
    """Bytes on disk (or in the bucket) of a store."""
    if is_remote(path):
        import fsspec

        fs, root = fsspec.core.url_to_fs(path, **(storage_options or {}))
        return int(sum(fs.du(root, total=False).values())) if fs.exists(root) else 0
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(dirpath, f))
            except OSError:
                pass
    return total


def write_variable(path: str, group: str, var, storage_options: Mapping | None = None,
                   state: str | None = None) -> None:
    """Add (or replace) one derived variable in a scenario of an existing store, chunked like the others.

    Used to store derived results such as the Pareto front next to the sweep's
    outputs, so that the dashboard and colleagues see them. Written with zarr
    directly so that nothing else in the group (attributes, other arrays)
    changes. The variable records the store state it was computed from
    (attribute ``dse_store_state``, :func:`store_state`; default: the state
    now): ``dse validate`` flags it once the store has changed, and any
    rewrite of the store removes it (:func:`remove_derived`).
    """
    attrs = {**dict(var.attrs), STATE_ATTR: state or store_state(path, storage_options)}
    root = zarr.open_group(zarr_store(path, storage_options), mode="r+", use_consolidated=False, zarr_format=3)
    g = root[group] if group else root
    chunks = tuple(g.attrs.get("dse_chunks", var.shape))
    try:
        arr = g.create_array(var.name, shape=var.shape, chunks=chunks, dtype=var.dtype, compressors=_compressors(),
                             fill_value=False if var.dtype == bool else np.nan, dimension_names=list(var.dims),
                             attributes=attrs, overwrite=True, config=WRITE_CONFIG)
        arr[...] = np.asarray(var.values)
    except OSError as exc:
        raise StoreError(f"cannot write {var.name!r} ({exc.strerror or exc})", where=path) from None
    _consolidate(path, storage_options)


# --------------------------------------------------------------------------- completeness and derived results
#: attribute of a derived variable: the store state (:func:`store_state`) it was computed from
STATE_ATTR = "dse_store_state"
#: derived variables a store may hold; also recognised without STATE_ATTR (older stores)
DERIVED_RESULTS = ("pareto_front", "pareto_probability")


@dataclass(frozen=True)
class Completeness:
    """Blocks written of a store, in total and per scenario.

    >>> c = Completeness(done=28, total=40, scenarios={"li": (28, 40)})
    >>> c.describe("out.zarr")
    'store out.zarr is incomplete: 12 of 40 blocks (30 %) missing'
    """

    done: int
    total: int
    scenarios: dict[str, tuple[int, int]]

    @property
    def missing(self) -> int:
        return self.total - self.done

    @property
    def complete(self) -> bool:
        return self.missing == 0

    def describe(self, path: str) -> str:
        pct = 100 * self.missing / self.total if self.total else 0.0
        return f"store {path} is incomplete: {self.missing:,} of {self.total:,} blocks ({pct:.3g} %) missing"


def completeness(path: str, storage_options: Mapping | None = None) -> Completeness:
    """How many blocks of each scenario are marked complete (the record ``--resume`` uses)."""
    attrs = read_root_attrs(path, storage_options)
    scenarios = {}
    for name, group in attrs.get("dse_groups", {}).items():
        done = completed_blocks(path, group, storage_options)
        scenarios[name] = (int((done != 0).sum()), int(done.size))
    return Completeness(done=sum(d for d, _ in scenarios.values()), total=sum(t for _, t in scenarios.values()),
                        scenarios=scenarios)


def require_complete(path: str, storage_options: Mapping | None = None, allow_incomplete: bool = False) -> str | None:
    """Refuse an incomplete store, or (``allow_incomplete``) return the line that says how much is missing.

    Returns None for a complete store.

    Raises
    ------
    StoreError
        The store is incomplete and ``allow_incomplete`` is False.
    """
    state = completeness(path, storage_options)
    if state.complete:
        return None
    if not allow_incomplete:
        raise StoreError(f"is incomplete: {state.describe(path).split(': ', 1)[1]}; finish it with "
                         "dse sweep SPEC -o STORE --resume, or pass --allow-incomplete to use the blocks written "
                         "so far", where=path)
    return f"{state.describe(path)}; results cover only the blocks written so far"


def store_state(path: str, storage_options: Mapping | None = None) -> str:
    """A fingerprint of what a store holds: ``SWEEP_ID:DONE/TOTAL:DIGEST``.

    ``SWEEP_ID`` changes with every new template (``--overwrite``), ``DONE``
    and ``DIGEST`` (of every scenario's completion record) with every block
    written (``--resume``). A derived result whose recorded state differs
    from the store's is stale.
    """
    import hashlib

    attrs = read_root_attrs(path, storage_options)
    digest = hashlib.sha256()
    done = total = 0
    for name, group in attrs.get("dse_groups", {}).items():
        record = completed_blocks(path, group, storage_options).astype(np.uint8)
        digest.update(name.encode() + b"\0" + record.tobytes())
        done += int((record != 0).sum())
        total += int(record.size)
    sweep_id = str(attrs.get("dse_sweep_id") or attrs.get("created") or "")
    return f"{sweep_id}:{done}/{total}:{digest.hexdigest()[:16]}"


def derived_variables(path: str, storage_options: Mapping | None = None) -> dict[str, dict[str, str | None]]:
    """Derived variables of each scenario: ``{scenario: {name: recorded state or None}}``."""
    attrs = read_root_attrs(path, storage_options)
    root = zarr.open_group(zarr_store(path, storage_options, read_only=True), mode="r", use_consolidated=False,
                           zarr_format=3)
    out: dict[str, dict[str, str | None]] = {}
    for name, group in attrs.get("dse_groups", {}).items():
        g = root[group] if group else root
        found = {}
        for key, arr in g.arrays():
            recorded = arr.attrs.get(STATE_ATTR)
            if recorded is not None or key in DERIVED_RESULTS:
                found[key] = None if recorded is None else str(recorded)
        out[name] = found
    return out


def remove_derived(path: str, storage_options: Mapping | None = None) -> list[str]:
    """Delete every derived variable (``pareto_front``, …) before a store is rewritten.

    Returns the ``scenario/variable`` names removed.
    """
    attrs = read_root_attrs(path, storage_options)
    found = derived_variables(path, storage_options)
    if not any(found.values()):
        return []
    root = zarr.open_group(zarr_store(path, storage_options), mode="r+", use_consolidated=False, zarr_format=3)
    removed = []
    for name, names in found.items():
        group = attrs["dse_groups"][name]
        g = root[group] if group else root
        for key in names:
            try:
                del g[key]
            except OSError as exc:
                raise StoreError(f"cannot remove the derived variable {key!r} ({exc.strerror or exc})",
                                 where=path) from None
            removed.append(f"{name}/{key}")
    _consolidate(path, storage_options)
    return removed


def set_status(path: str, status: str, storage_options: Mapping | None = None) -> None:
    """Set the root attribute ``dse_status`` (``running`` while blocks are written, then ``complete``)."""
    root = zarr.open_group(zarr_store(path, storage_options), mode="r+", use_consolidated=False, zarr_format=3)
    root.attrs.update({"dse_status": status})
    _consolidate(path, storage_options)
