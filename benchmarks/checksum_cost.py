"""What the crc32c chunk checksum costs: writing and reading a sweep's outputs with and without it.

The outputs of a real grid sweep (evaluated once, in this process) are
written block by block as ``dse.store.write_block`` does (one region per
block and output, float32, Blosc lz4) into two Zarr v3 stores that differ
only in the checksum codec, then read back whole: with plain zarr, and with
dse's reader (:class:`dse.store.integrity.CheckedStore`, which verifies each
chunk's checksum before zarr's codec verifies it again). One thread,
medians of ``--repeat`` runs; the model kernel's time for the same blocks is
printed for scale.

Run: ``python benchmarks/checksum_cost.py [--designs 1000000] [--chunk 131072] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
import zarr
from zarr.codecs import BloscCodec, Crc32cCodec

from dse.store import COMPRESSOR, WRITE_CONFIG


def spec_for(n_target: int, chunk: int) -> dict:
    loadings = max(1, round(n_target / (4 * 50 * 25 * 10)))
    return {
        "name": "checksum benchmark",
        "chunk_size": chunk,
        "inputs": {
            "cathode": ["NMC811", "NMC622", "NCA", "LFP"],
            "current_collector_thickness": {"linspace": [1.0, 20.0, 50]},
            "stack_pressure": {"linspace": [0.0, 3.0, 25]},
            "depth_of_discharge": {"linspace": [0.5, 1.0, 10]},
            "cathode_loading": {"linspace": [1.0, 10.0, loadings]},
            "electrolyte": "Li-dual-salt",
        },
    }


def evaluate(spec):
    from dse.design import DesignSpace
    from dse.modelchain import ModelChain
    from dse.sweep import evaluate_space_block

    scenario = spec.scenarios[0]
    space = DesignSpace(scenario, spec.chunk_size)
    chain = ModelChain.from_design(scenario)
    evaluate_space_block(space, chain, 0, spec.outputs)  # compile
    blocks, t = [], time.perf_counter()
    for b in range(space.n_blocks):
        values, _, shape, region = evaluate_space_block(space, chain, b, spec.outputs)
        blocks.append((region, shape, values.copy()))
    return space, blocks, time.perf_counter() - t


def write(path: Path, space, outputs, blocks, checksum: bool) -> None:
    shutil.rmtree(path, ignore_errors=True)
    codecs = [BloscCodec(**COMPRESSOR)] + ([Crc32cCodec()] if checksum else [])
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    arrays = [
        group.create_array(
            name,
            shape=space.shape,
            chunks=space.chunks,
            dtype="float32",
            fill_value=np.nan,
            compressors=codecs,
            config=WRITE_CONFIG,
        )
        for name in outputs
    ]
    for region, shape, values in blocks:
        for j, arr in enumerate(arrays):
            arr[region] = values[j].reshape(shape)


def read(path: Path, outputs, checked: bool) -> float:
    from zarr.storage import LocalStore

    from dse.store.integrity import CheckedStore

    store = LocalStore(str(path), read_only=True)
    if checked:
        store = CheckedStore(store, str(path))
    group = zarr.open_group(store, mode="r", zarr_format=3)
    return float(sum(np.nansum(group[name][...]) for name in outputs))


def medians(fns: dict, repeat: int) -> dict[str, float]:
    """Median wall time of each function, the functions interleaved in every round (a shared machine's load
    then weighs on all of them alike); one untimed warm-up round."""
    times: dict[str, list[float]] = {label: [] for label in fns}
    for r in range(repeat + 1):
        for label, fn in fns.items():
            t = time.perf_counter()
            fn()
            if r:
                times[label].append(time.perf_counter() - t)
    return {label: statistics.median(ts) for label, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--designs", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=131_072)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from dse.spec import parse_sweep

    data = spec_for(args.designs, args.chunk)
    spec = parse_sweep(data, text=yaml.safe_dump(data))
    space, blocks, t_kernel = evaluate(spec)
    n, outputs = space.n_designs, spec.outputs
    mb = n * len(outputs) * 4 / 1e6
    print(
        f"{n:,} designs × {len(outputs)} outputs ({mb:,.0f} MB float32) in {space.n_blocks} blocks of "
        f"{args.chunk:,}; kernel {t_kernel:.2f} s; medians of {args.repeat}"
    )
    scratch = Path(tempfile.mkdtemp(prefix="dse-crc-"))
    try:
        plain, crc = scratch / "plain.zarr", scratch / "crc.zarr"
        rows = list(
            medians(
                {
                    "write, Blosc": lambda: write(plain, space, outputs, blocks, False),
                    "write, Blosc + crc32c": lambda: write(crc, space, outputs, blocks, True),
                },
                args.repeat,
            ).items()
        )
        assert read(plain, outputs, False) == read(crc, outputs, True)  # the same numbers back
        rows += list(
            medians(
                {
                    "read, Blosc (zarr)": lambda: read(plain, outputs, False),
                    "read, Blosc + crc32c (zarr)": lambda: read(crc, outputs, False),
                    "read, Blosc + crc32c (dse reader)": lambda: read(crc, outputs, True),
                },
                args.repeat,
            ).items()
        )
        for label, t in rows:
            print(f"{label:36s} {t:7.3f} s  {mb / t:8,.0f} MB/s  {n / t:12,.0f} designs/s")
        for a, b in ((0, 1), (2, 3), (2, 4)):
            print(f"{rows[b][0]} vs {rows[a][0]}: {100 * (rows[b][1] / rows[a][1] - 1):+.1f} %")
        print(
            f"bytes on disk: {sum(f.stat().st_size for f in plain.rglob('*') if f.is_file()):,} without, "
            f"{sum(f.stat().st_size for f in crc.rglob('*') if f.is_file()):,} with the checksum"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
