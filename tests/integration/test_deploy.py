"""The deployment gallery (deploy/*.md), named clusters, TLS and fail-fast errors.

Pages that can run here (laptop, existing scheduler, TLS) are run command by
command with real processes on loopback. Pages that need a batch system,
Kubernetes or a gateway are checked as far as honestly possible: their
``dse sweep`` lines parse with the real CLI, their configuration blocks
resolve to the right class and keywords, the SLURM/PBS job scripts render.
"""

from __future__ import annotations

import inspect
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dask.config
import pytest
import yaml

from dse.cli import main
from dse.clusters import check_cluster, cluster_entry, cluster_names, open_cluster
from dse.errors import DseError
from dse.store.validate import validate_store
from tests._cluster import (
    DSE,
    ENV,
    done_blocks,
    free_port,
    port_open,
    sweep_counts,
    total_blocks,
    wait_until,
)
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
PAGES = ["laptop.md", "scheduler.md", "tls.md", "slurm.md", "kubernetes.md", "gateway.md"]
RUNNABLE = ["laptop.md", "scheduler.md", "tls.md"]
USER_CONFIG = "# ~/.config/dask/dse.yaml"


# --------------------------------------------------------------------------- reading the pages
def fenced(page: str, lang: str) -> list[str]:
    """The fenced code blocks of ``deploy/<page>`` whose info string is ``lang``."""
    text = (DEPLOY / page).read_text()
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.M | re.S)


def commands(block: str) -> list[str]:
    return [line.strip() for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def sweep_lines(page: str) -> list[list[str]]:
    return [shlex.split(c) for b in fenced(page, "sh") for c in commands(b) if c.startswith("dse sweep")]


def config_blocks(page: str) -> list[dict]:
    return [yaml.safe_load(b) for b in fenced(page, "yaml") if b.startswith(USER_CONFIG)]


def merged(block: dict) -> dask.config.set:
    """Set ``block`` over the current configuration key by key, as Dask merges a user's YAML file."""

    def flatten(d: dict, prefix: str = "") -> dict:
        flat = {}
        for key, value in d.items():
            if isinstance(value, dict) and value:
                flat.update(flatten(value, f"{prefix}{key}."))
            else:
                flat[f"{prefix}{key}"] = value
        return flat

    return dask.config.set(flatten(block))


def test_gallery_has_every_page_and_each_ends_with_its_dse_sweep_command():
    readme = (DEPLOY / "README.md").read_text()
    for page in PAGES:
        assert f"]({page})" in readme, page
        last = commands(fenced(page, "sh")[-1])
        assert len(last) == 1 and last[0].startswith("dse sweep "), page
        assert "Tested:" in (DEPLOY / page).read_text(), f"{page} must say what is tested"


@pytest.mark.parametrize("page", PAGES)
def test_dse_sweep_lines_of_the_pages_parse_with_the_real_cli(page):
    import typer.main

    from dse.cli import app

    command = typer.main.get_command(app).commands["sweep"]
    lines = sweep_lines(page)
    assert lines, page
    for args in lines:
        assert args[:2] == ["dse", "sweep"]
        ctx = command.make_context("sweep", args[2:])  # unknown options or bad values raise here
        if ctx.params["cluster"]:
            assert ctx.params["cluster"] in cluster_names()
        assert ctx.params["spec"] == Path("spec.yaml") and ctx.params["output"]


@pytest.mark.parametrize("page", [p for p in ["README.md", *PAGES] if config_blocks(p)])
def test_configuration_blocks_of_the_pages_resolve(page):
    for block in config_blocks(page):
        with merged(block):
            for name, raw in block["dse"]["clusters"].items():
                entry = cluster_entry(name)
                for key, value in (raw.get("kwargs") or {}).items():
                    assert entry.kwargs[key.replace("-", "_")] == value
                if "workers" in raw:
                    assert entry.workers == raw["workers"]
                try:
                    cls = entry.load()
                except DseError as exc:
                    assert f"pip install {entry.package}" in str(exc)
                    continue
                signature = inspect.signature(cls)
                accepts_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
                assert accepts_any or set(entry.kwargs) <= set(signature.parameters), name


# --------------------------------------------------------------------------- named clusters
def test_shipped_configuration_names_the_five_targets():
    assert {"local", "slurm", "pbs", "kubernetes", "gateway"} <= set(cluster_names())
    expected = {
        "local": "distributed.LocalCluster",
        "slurm": "dask_jobqueue.SLURMCluster",
        "pbs": "dask_jobqueue.PBSCluster",
        "kubernetes": "dask_kubernetes.operator.KubeCluster",
        "gateway": "dask_gateway.GatewayCluster",
    }
    for name, cls in expected.items():
        assert cluster_entry(name).cls == cls
    from distributed import LocalCluster

    assert check_cluster("local") is LocalCluster
    kwargs, scale = cluster_entry("local").arguments(workers=3)
    assert kwargs["n_workers"] == 3 and kwargs["threads_per_worker"] == 1 and scale is None


def test_user_configuration_overrides_the_defaults():
    with dask.config.set(
        {
            "dse.clusters.slurm.workers": 64,
            "dse.clusters.slurm.kwargs.queue": "long",
            "dse.clusters.slurm.kwargs.memory": None,
        }
    ):
        entry = cluster_entry("slurm")
    assert entry.workers == 64 and entry.kwargs["queue"] == "long" and entry.kwargs["cores"] == 8
    assert "memory" not in entry.kwargs  # null: the class's (or jobqueue.slurm's) default applies
    with dask.config.set({"dse.clusters.mine": {"class": "distributed.LocalCluster", "workers": 1}}):
        assert "mine" in cluster_names() and check_cluster("mine").__name__ == "LocalCluster"


def test_local_named_cluster_starts_and_closes():
    with open_cluster("local", workers=1, dashboard_address=None) as cluster:
        assert len(cluster.workers) == 1
    assert cluster.status.name == "closed"


@pytest.mark.parametrize("name, page", [("slurm", "slurm.md"), ("pbs", "slurm.md")])
def test_jobqueue_entries_render_the_job_scripts_the_page_describes(name, page):
    pytest.importorskip("dask_jobqueue")
    block = next(b for b in config_blocks(page) if "slurm" in b["dse"]["clusters"])
    # the page's block is written for SLURM; PBS takes the same keywords
    settings = {"dse": {"clusters": {name: block["dse"]["clusters"]["slurm"]}}}
    with merged(settings):
        entry = cluster_entry(name)
        kwargs, scale = entry.arguments(workers=0)  # build the job script, submit nothing
        assert scale is None and entry.workers == 64
        cluster = entry.load()(**kwargs)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    prefix = "#SBATCH" if name == "slurm" else "#PBS"
    assert f"{prefix} " in script and "04:00:00" in script
    assert "compute" in script and "myproject" in script
    assert "--nworkers 8" in script and "--nthreads 1" in script
    assert "source /shared/venvs/dse/bin/activate" in script and "$TMPDIR" in script


def test_missing_optional_package_is_one_clear_line(monkeypatch):
    for name, module in [("slurm", "dask_jobqueue"), ("kubernetes", "dask_kubernetes"), ("gateway", "dask_gateway")]:
        monkeypatch.setitem(sys.modules, module, None)  # as if not installed: import raises ImportError
        with pytest.raises(DseError) as info:
            check_cluster(name)
        assert (
            str(info.value) == f"--cluster {name}: needs the {cluster_entry(name).package} package: "
            f"pip install {cluster_entry(name).package}"
        )


def test_kubernetes_entry_builds_the_dask_cluster_resource():
    operator = pytest.importorskip("dask_kubernetes.operator")
    entry = cluster_entry("kubernetes")
    kwargs, _ = entry.arguments()
    spec = operator.make_cluster_spec(
        name=kwargs["name"], image=kwargs["image"], n_workers=kwargs["n_workers"], resources=kwargs["resources"]
    )
    worker = spec["spec"]["worker"]
    assert worker["replicas"] == entry.workers
    assert worker["spec"]["containers"][0]["image"] == entry.kwargs["image"]


def test_gateway_entry_binds_to_the_gateway_cluster():
    gateway = pytest.importorskip("dask_gateway")
    kwargs, scale = cluster_entry("gateway").arguments()
    inspect.signature(gateway.GatewayCluster).bind(**kwargs)
    assert scale == cluster_entry("gateway").workers  # no n_workers argument: cluster.scale(n)


def run_cli(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def test_cluster_errors_are_one_line(capsys, tmp_path):
    spec = DEPLOY / "spec.yaml"
    out = str(tmp_path / "out.zarr")
    cases = [
        (["--cluster", "slrum"], "--cluster: unknown cluster 'slrum'; did you mean 'slurm'?"),
        (["--cluster", "local", "--scheduler", "tcp://127.0.0.1:1"], "choose --scheduler or --cluster, not both"),
        (["--cluster", "local", "--tls-ca-file", str(spec), "--tls-cert", str(spec)], "apply to --scheduler"),
        (["--scheduler", "tls://127.0.0.1:1", "--tls-cert", str(tmp_path / "no.pem")], "--tls-cert"),
    ]
    if shutil.which("sbatch") is None and _importable("dask_jobqueue"):
        cases.append((["--cluster", "slurm"], "'sbatch' is not on this machine's PATH"))
    for args, message in cases:
        code, err = run_cli(capsys, "sweep", str(spec), "-o", out, "--quiet", *args)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (args, err)
        assert not Path(out).exists()


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# --------------------------------------------------------------------------- the container image
def test_dockerfile_pins_its_base_image_and_every_package():
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    text = (DEPLOY / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", text, flags=re.M)[1]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base
    for source in re.findall(r"^COPY (\S+(?: \S+)*) \S+$", text, flags=re.M):
        for path in source.split():
            assert (ROOT / path).exists(), path
    assert "pip install --no-deps -r deploy/requirements.txt" in text

    pins = {}
    for line in (DEPLOY / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", line
            pins[canonicalize_name(req.name)] = spec.version
    pyproject = _pyproject()
    needed = (
        pyproject["project"]["dependencies"]
        + pyproject["project"]["optional-dependencies"]["s3"]
        + pyproject["project"]["optional-dependencies"]["gateway"]
    )
    for dep in map(Requirement, needed):
        name = canonicalize_name(dep.name)
        assert name in pins, f"{name} is not pinned in deploy/requirements.txt"
        assert dep.specifier.contains(pins[name]), f"{name}=={pins[name]} does not satisfy {dep}"
    assert "setuptools" in pins and "wheel" in pins  # the build of dse itself is pinned too


def _pyproject() -> dict:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _docker_engine() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _docker_engine(), reason="no Docker engine on this machine")
def test_docker_image_builds_and_runs_dse(tmp_path):
    tag = "dse-test:latest"
    subprocess.run(["docker", "build", "-f", "deploy/Dockerfile", "-t", tag, "."], cwd=ROOT, check=True)
    out = subprocess.run(["docker", "run", "--rm", tag, "dse", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("dse ")


# --------------------------------------------------------------------------- running the pages
class PageRun:
    """Runs the ``sh`` blocks of a page in a fresh directory, in order.

    ``dse`` and ``dask`` are this Python's; a line ending in ``&`` runs in
    the background until :meth:`close`; ``export NAME=VALUE`` sets a variable
    for the lines after it; port 8786 is replaced by a free port.
    """

    def __init__(self, page: str, workdir: Path):
        self.page, self.workdir = page, workdir
        self.port = free_port()
        self.background: list[subprocess.Popen] = []
        self.results: list[tuple[str, subprocess.CompletedProcess]] = []
        bindir = workdir / "bin"
        bindir.mkdir()
        for name, module in [("dse", "dse.cli"), ("dask", "dask")]:
            shim = bindir / name
            shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m {module} "$@"\n')
            shim.chmod(0o755)
        shutil.copy(DEPLOY / "spec.yaml", workdir / "spec.yaml")
        self.env = {**ENV, "PATH": f"{bindir}{os.pathsep}{ENV.get('PATH', '')}", "PWD": str(workdir)}

    def run(self) -> PageRun:
        for block in fenced(self.page, "sh"):
            for line in commands(block):
                self.line(line.replace("8786", str(self.port)))
        return self

    def line(self, line: str) -> None:
        if line.startswith("export "):
            name, _, value = line[len("export ") :].partition("=")
            self.env[name] = value.replace("$PWD", str(self.workdir))
            return
        if line.endswith("&"):
            log = open(self.workdir / f"background{len(self.background)}.log", "wb")  # noqa: SIM115
            proc = subprocess.Popen(
                f"exec {line[:-1]}",
                shell=True,
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()
            self.background.append(proc)
            if line.startswith("dask scheduler"):
                wait_until(lambda: port_open(self.port) or proc.poll() is not None, 60, "the scheduler")
                assert proc.poll() is None, (self.workdir / "background0.log").read_text()[-2000:]
            return
        result = subprocess.run(
            line, shell=True, cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, f"{self.page}: {line}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        self.results.append((line, result))

    def close(self) -> None:
        for proc in self.background:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def check_store(self) -> None:
        out = self.workdir / "results.zarr"
        assert validate_store(str(out)) == []
        assert done_blocks(out) == total_blocks(out) == 8
        sweeps = [r for line, r in self.results if line.startswith("dse sweep")]
        assert sweeps and all("9,600 designs" in r.stdout for r in sweeps)


@pytest.mark.cluster
def test_laptop_page_runs(tmp_path):
    run = PageRun("laptop.md", tmp_path)
    try:
        run.run().check_store()
    finally:
        run.close()
    resume = next(r for line, r in run.results if "--resume" in line)
    assert sweep_counts(resume.stdout) == (0, 8)


@pytest.mark.cluster
def test_scheduler_page_runs_on_a_dask_scheduler_and_two_dask_workers(tmp_path):
    run = PageRun("scheduler.md", tmp_path)
    try:
        run.run().check_store()
        assert sum(p.args.startswith("exec dask worker tcp://") for p in run.background) == 2
    finally:
        run.close()


@pytest.fixture(scope="module")
def tls_page(tmp_path_factory):
    """The TLS page, run; its scheduler stays up for the mismatch tests."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed for the page's certificate steps")
    workdir = tmp_path_factory.mktemp("tls")
    run = PageRun("tls.md", workdir)
    try:
        run.run()
        # a second CA and certificate, to present credentials the cluster does not trust
        for line in commands(fenced("tls.md", "sh")[0]):
            run.line(re.sub(r"\bdse\.", "other.", re.sub(r"\bca\.", "other-ca.", line)))
        yield run
    finally:
        run.close()


@pytest.mark.cluster
def test_tls_page_runs_with_certificates_made_by_its_commands(tls_page):
    tls_page.check_store()
    assert {"ca.pem", "dse.pem", "dse.key"} <= {p.name for p in tls_page.workdir.iterdir()}
    assert sum(p.args.startswith("exec dask worker tls://") for p in tls_page.background) == 2


@pytest.mark.cluster
@pytest.mark.parametrize(
    "case, message",
    [
        ("tls address, no certificates", "the address is tls:// but no TLS certificates were given"),
        ("certificates, tcp address", "TLS certificates were given but the address is not tls://"),
        ("tcp address of a TLS scheduler", "the scheduler closed the connection"),
        ("certificates of another CA", "the TLS handshake failed"),
    ],
)
def test_tls_mismatch_fails_fast(tls_page, tmp_path, case, message):
    w = tls_page.workdir
    ours = ["--tls-ca-file", str(w / "ca.pem"), "--tls-cert", str(w / "dse.pem"), "--tls-key", str(w / "dse.key")]
    theirs = [
        "--tls-ca-file",
        str(w / "other-ca.pem"),
        "--tls-cert",
        str(w / "other.pem"),
        "--tls-key",
        str(w / "other.key"),
    ]
    tls, tcp = f"tls://127.0.0.1:{tls_page.port}", f"tcp://127.0.0.1:{tls_page.port}"
    args = {
        "tls address, no certificates": ["--scheduler", tls],
        "certificates, tcp address": ["--scheduler", tcp, *ours],
        "tcp address of a TLS scheduler": ["--scheduler", tcp],
        "certificates of another CA": ["--scheduler", tls, *theirs],
    }[case]
    out = tmp_path / "out.zarr"
    t = time.perf_counter()
    proc = subprocess.run(
        [*DSE, "sweep", str(DEPLOY / "spec.yaml"), "-o", str(out), "--quiet", *args],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert time.perf_counter() - t < 30
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not out.exists()


@pytest.mark.cluster
@pytest.mark.parametrize("timeout", [None, "3s"])
def test_unreachable_scheduler_fails_fast(tmp_path, timeout):
    out = tmp_path / "out.zarr"
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    env = ENV if timeout is None else {**ENV, "DASK_DSE__SCHEDULER_TIMEOUT": timeout}  # Dask config, by env
    t = time.perf_counter()
    proc = subprocess.run(
        [*DSE, "sweep", str(DEPLOY / "spec.yaml"), "-o", str(out), "--scheduler", address, "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert time.perf_counter() - t < 30
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        f"error: {address}: cannot connect to the Dask scheduler: no Dask scheduler "
        f"answered within {(timeout or '10s')[:-1]} s: is it running, and is the "
        "address right?"
    )
    assert not out.exists()
