"""Shared fixtures: catalogue, model chain, seed 001 designs, a small store, an S3 server."""

from __future__ import annotations

import copy
import socket
from collections import Counter
from pathlib import Path

import pytest

from dse.evaluate import evaluate_design
from dse.modelchain import ModelChain
from dse.spec import load_design

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


#: fixtures that start real processes, and the lane marker a test that uses one (directly or through
#: another fixture) gets: ``make check`` runs ``-m "not slow and not browser and not cluster"``
PROCESS_FIXTURES = {"cluster": "cluster", "small_store": "cluster", "s3_endpoint": "slow"}


def pytest_collection_modifyitems(items):
    for item in items:
        for fixture in PROCESS_FIXTURES.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(PROCESS_FIXTURES[fixture])
    # Files with slow tests run first, most slow tests first, each whole. pytest-xdist hands tests
    # out in this order as workers free up, so the long ones start early and both workers end on
    # short ones, instead of one finishing a fault test alone at the end (the wall time of
    # `make test` is that of its slower worker). A file is kept together so that its module
    # fixtures are not built more often on a worker than they are now.
    slow = Counter(item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow[item.nodeid.split("::")[0]])


FUZZ_REPORT = Path(__file__).parent / "artifacts" / "fuzz-counts.txt"


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the controller (or a run without xdist)
        FUZZ_REPORT.unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter):
    """The fuzz counts of this run (tests/integration/test_fuzz.py), so that every CI log shows them."""
    if FUZZ_REPORT.exists():
        terminalreporter.write_sep("-", "fuzz counts")
        terminalreporter.write(FUZZ_REPORT.read_text())


@pytest.fixture(scope="session")
def chain() -> ModelChain:
    return ModelChain()


def seed001(case: int, **inputs):
    """Evaluate seed 001 Table 1 case ``case`` with some inputs changed."""
    design = copy.deepcopy(_seed001_design(case))
    design.inputs.update(inputs)
    return evaluate_design(design)


_CACHE: dict[int, object] = {}


def _seed001_design(case: int):
    if case not in _CACHE:
        _CACHE[case] = load_design(EXAMPLES / "seed001" / f"case{case}.yaml")
    return _CACHE[case]


@pytest.fixture(scope="session")
def cluster():
    """A real 2-worker dask.distributed LocalCluster (processes) for the session."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


SMALL_STORE_SPEC = {
    "name": "small store",
    "scenarios": [
        {
            "name": "li",
            "inputs": {
                "metal": "Li",
                "cathode": ["NMC811", "LFP"],
                "electrolyte": ["Li-dual-salt", "Li-LPSCl"],
                "cathode_loading": {"linspace": ["2 mAh/cm^2", "7 mAh/cm^2", 6]},
                "current_collector_thickness": ["4 um", "8 um"],
                "stack_pressure": [0.0, 1.0, 3.0],
                "coating": ["none", "Ag-C"],
                "coating_thickness": "1 um",
                "temperature": [25, 60],
            },
        },
        {
            "name": "na",
            "sampler": {"method": "sobol", "n": 256, "seed": 2},
            "inputs": {
                "metal": "Na",
                "cathode": ["NVP", "NaPW"],
                "electrolyte": "Na-diglyme",
                "current_collector": "Al",
                "cathode_loading": {"range": [1, 5]},
                "stack_pressure": {"range": [0, 2]},
            },
        },
    ],
    "uncertainty": True,
}


@pytest.fixture(scope="session")
def small_store(tmp_path_factory, cluster):
    """A two-scenario results store (grid + sampled) shared by several tests."""
    import yaml

    from dse.spec import parse_sweep
    from dse.sweep import run_sweep

    path = str(tmp_path_factory.mktemp("store") / "small.zarr")
    spec = parse_sweep(SMALL_STORE_SPEC, text=yaml.safe_dump(SMALL_STORE_SPEC), chunk_size=64)
    run_sweep(spec, path, scheduler=cluster.scheduler_address)
    return path


#: credentials of the S3 tests: distinctive, so a test can search files for them
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIADSETESTKEY0NOTREAL",
    "AWS_SECRET_ACCESS_KEY": "dse-test-secret-0NOTREAL",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def aws_env():
    """The standard AWS environment variables set to test credentials (and undone after the module)."""
    mp = pytest.MonkeyPatch()
    for key, value in AWS_TEST_ENV.items():
        mp.setenv(key, value)
    yield AWS_TEST_ENV
    mp.undo()


@pytest.fixture(scope="module")
def s3_endpoint(aws_env):
    """A real S3-compatible server (moto) on loopback with a bucket "results"."""
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="results")
    yield endpoint
    server.stop()
