"""Every bad input through the real command line ends in one line (issue 22, points 5-7).

Each trigger runs ``dse.cli.main`` as the console script does and must end with
a non-zero status, exactly one line on stderr that names the input, and no
traceback. Output paths and ports are checked before the work: no store, lock
or partial file appears. Catalog reads stay inside the store, open only
regular files and are bounded. The last test starts a real ``dse serve`` and
probes Panel's ``/components`` route and the session limit.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from dse.catalog import _multihash
from dse.cli import main

ROOT = Path(__file__).resolve().parents[2]
DESIGN = ROOT / "examples" / "nmc811_dual_salt.yaml"
CATALOGS = ROOT / "catalogs"
EXAMPLE_STORE = CATALOGS / "stores" / "anode-free-small.zarr"
ENTRY = "anode-free-small"


def one_line(capsys, args: list[str], *names: str, code: int | None = None) -> str:
    """Run ``dse ARGS``; the one stderr line, after checking status, line count, names and no traceback."""
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert rc != 0 and (code is None or rc == code), (rc, out, err)
    assert len(lines) == 1, err
    assert "Traceback" not in out + err
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


def design_with(tmp_path: Path, old: str, new: str, name: str = "design.yaml") -> Path:
    text = DESIGN.read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new))
    return path


SWEEP = """name: t
scenarios:
  - name: s
    inputs:
      metal: Li
      cathode: NMC811
      electrolyte: Li-carbonate
"""


def sweep_with(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SWEEP + extra)
    return path


# --------------------------------------------------------------------------- designs and units
@pytest.mark.parametrize(
    ("old", "new", "expect"),
    [
        ("charge_rate: C/5", "charge_rate: C/0", "divides by 0"),
        ("charge_rate: C/5", "charge_rate: eC", "has no number"),
        ("discharge_rate: C/2", "discharge_rate: 1e999C", "not a finite C-rate"),
        ("temperature: 25 degC", "temperature: 25 delta_degC", "temperature difference"),
        ("stack_pressure: 1.2 MPa", "stack_pressure: MPa", "has no number"),
        ("cell_format: pouch", "cell_format: pouch\nmetal: Na", "duplicate key 'metal' (lines 2 and 17)"),
    ],
    ids=["C/0", "eC", "1e999C", "delta_degC", "unit-without-number", "duplicate-key"],
)
def test_design_values_are_one_line_errors(tmp_path, capsys, old, new, expect):
    path = design_with(tmp_path, old, new)
    line = one_line(capsys, ["evaluate", path], str(path), expect, code=2)
    assert line.startswith("error: ")


def test_scientific_notation_is_a_number(tmp_path, capsys):
    plain = design_with(tmp_path, "cathode_loading: 4 mAh/cm^2", "cathode_loading: 4", "plain.yaml")
    sci = design_with(tmp_path, "cathode_loading: 4 mAh/cm^2", "cathode_loading: 4e0", "sci.yaml")
    quoted = design_with(tmp_path, "cathode_loading: 4 mAh/cm^2", "cathode_loading: '0.4e1'", "quoted.yaml")
    outputs = []
    for path in (plain, sci, quoted):
        assert main(["evaluate", str(path), "--json"]) == 0
        outputs.append(json.loads(capsys.readouterr().out)["outputs"])
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0]["capacity"]["value"] > 0


@pytest.mark.parametrize("name", ["[/x]", "[bold]x[/bold] [link=file:///etc/passwd]y[/link]", "x" * 100_000])
def test_names_print_without_markup_and_fast(tmp_path, capsys, name):
    path = design_with(tmp_path, "name: NMC811 anode-free pouch with dual-salt electrolyte", f"name: '{name}'")
    t = time.perf_counter()
    assert main(["evaluate", str(path)]) == 0
    elapsed = time.perf_counter() - t
    out, err = capsys.readouterr()
    first = out.splitlines()[0]
    assert elapsed < 20 and not err
    assert first == name if len(name) < 200 else (first.startswith("x" * 150) and len(first) <= 200)


# --------------------------------------------------------------------------- sweep specs
@pytest.mark.parametrize(
    ("extra", "expect"),
    [
        ("      cathode_loading: {linspace: [2 mAh/cm^2, 8 mAh/cm^2, .inf]}\n", "linspace[2]: expected an integer"),
        ("      cathode_loading: {linspace: [2 mAh/cm^2, 8 mAh/cm^2, .nan]}\n", "linspace[2]: expected an integer"),
        ("      cathode_loading: {logspace: [2 mAh/cm^2, 8 mAh/cm^2, -.inf]}\n", "logspace[2]: expected an integer"),
        ("      cathode_loading: {linspace: [2 mAh/cm^2, 8 mAh/cm^2, 3]}\nchunk_size: .inf\n", "chunk_size: expected"),
        ("      cathode_loading: {range: [2, 8]}\n    sampler: {method: sobol, n: .inf}\n", "sampler.n: expected"),
        ("      cathode_loading: {range: [2, 8]}\n    sampler: {method: random, n: 8, seed: .nan}\n", "seed: expected"),
        (
            "      cathode_loading: {range: [2, 8]}\n    sampler: {method: latin_hypercube, n: 8, seed: 100000000000000000000000}\n",
            "sampler.seed: expected an integer from 0 to 4,294,967,295",
        ),
        ("      cathode_loading: {linspace: [2 mAh/cm^2, 2 mAh/cm^2, 3]}\n", "repeats one value 3 times"),
    ],
    ids=[
        "linspace-inf",
        "linspace-nan",
        "logspace-inf",
        "chunk-inf",
        "sampler-n-inf",
        "seed-nan",
        "lhs-seed-huge",
        "linspace-equal-ends",
    ],
)
def test_sweep_counts_are_checked_before_any_work(tmp_path, capsys, extra, expect):
    spec = sweep_with(tmp_path, extra)
    out = tmp_path / "out.zarr"
    one_line(capsys, ["sweep", spec, "-o", out, "--quiet"], str(spec), expect, code=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]  # no store, no lock


def test_limit_variable_of_infinity_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DSE_MAX_DESIGNS", "inf")
    spec = sweep_with(tmp_path, "      cathode_loading: 4\n")
    one_line(capsys, ["sweep", spec, "-o", tmp_path / "out.zarr"], "DSE_MAX_DESIGNS", code=2)


# --------------------------------------------------------------------------- --where
@pytest.mark.parametrize(
    ("where", "expect"),
    [
        ("cycle_life > 1" + "0" * 400, "is too large"),
        ("not " * 2400 + "feasible", "nested more than 100 levels"),
        ("(" * 300 + "cost > 1" + ")" * 300, "nested"),  # Python's parser refuses this one itself
    ],
    ids=["huge-int", "2400-nots", "300-parentheses"],
)
def test_hostile_where_is_one_line(capsys, where, expect):
    one_line(capsys, ["pareto", EXAMPLE_STORE, "--no-store", "--where", where], "where", expect, code=2)


def test_where_literals_do_not_overflow_integer_variables(capsys):
    """``infeasible_reason`` is uint16: a larger literal compares as a number, not as an overflow."""
    assert main(["pareto", str(EXAMPLE_STORE), "--no-store", "--top", "0"]) == 0
    everything = capsys.readouterr().out.splitlines()[0]
    assert (
        main(
            [
                "pareto",
                str(EXAMPLE_STORE),
                "--no-store",
                "--top",
                "0",
                "--where",
                "infeasible_reason + 70000 > 3 and infeasible_reason < 70000",
            ]
        )
        == 0
    )
    filtered = capsys.readouterr().out.splitlines()[0]
    assert filtered.split(" designs")[0] == everything.split(" designs")[0]
    assert int(everything.split()[0].replace(",", "")) > 0


def test_refine_checkpoints_damaged_or_in_the_way_are_one_line_and_kept(tmp_path, capsys):
    """A rerun of an interrupted ``dse refine`` never uses a checkpoint it cannot trust, nor deletes it."""
    spec = sweep_with(tmp_path, "      cathode_loading: {linspace: [1, 5, 3]}\n")
    damaged, blocked = tmp_path / "damaged.zarr", tmp_path / "blocked.zarr"
    (tmp_path / "damaged.zarr.dse-refine").mkdir()
    (tmp_path / "damaged.zarr.dse-refine" / "state.npz").write_bytes(b"PK\x03\x04 not a whole zip")
    (tmp_path / "blocked.zarr.dse-refine").write_text("mine")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    one_line(capsys, ["refine", spec, "-o", damaged], str(damaged), "is damaged", "--overwrite", code=2)
    one_line(capsys, ["refine", spec, "-o", blocked], str(blocked), "is in the way", code=2)
    one_line(capsys, ["refine", spec, "-o", blocked, "--overwrite"], str(blocked), "is in the way", code=2)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


# --------------------------------------------------------------------------- output paths and ports
def test_unwritable_outputs_are_refused_before_the_work(tmp_path, capsys):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    a_dir = tmp_path / "dir"
    a_dir.mkdir()
    spec = sweep_with(tmp_path, "      cathode_loading: 4\n")
    cases = [
        (["pareto", EXAMPLE_STORE, "--no-store", "--csv", "/nonexistent/front.csv"], "--csv /nonexistent/front.csv"),
        (["pareto", EXAMPLE_STORE, "--no-store", "--parquet", a_file / "front.parquet"], "--parquet"),
        (["pareto", EXAMPLE_STORE, "--no-store", "--csv", "/proc/front.csv"], "--csv /proc/front.csv"),
        (["pareto", EXAMPLE_STORE, "--no-store", "--parquet", a_dir], "is a directory"),
        (["evaluate", DESIGN, "--curve", a_file / "curve.png"], "--curve"),
        (["report", EXAMPLE_STORE, "-o", a_dir], "-o"),
        (["sensitivity", EXAMPLE_STORE, "-o", "/nonexistent/s.png"], "--plot /nonexistent/s.png"),
        (["calibrate", ROOT / "dse" / "data" / "literature.csv", "-o", "/nonexistent/c.yaml"], "-o /nonexistent"),
        (["sweep", spec, "-o", a_file / "sub" / "out.zarr", "--quiet"], "is a file, not a folder"),
        (["sweep", spec, "-o", "/proc/out.zarr", "--quiet"], "-o /proc/out.zarr"),
    ]
    before = sorted(p.name for p in tmp_path.iterdir())
    for args, name in cases:
        t = time.perf_counter()
        one_line(capsys, args, name, code=2)
        assert time.perf_counter() - t < 15, args  # refused before the model runs
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert list(a_dir.iterdir()) == []


def test_bad_cell_folders_are_refused_in_one_line_and_nothing_is_written(tmp_path, capsys):
    """``dse calibrate --cells``: a missing or empty folder, a sidecar with an unknown material,
    a misspelt or missing key, malformed YAML: one line naming the file, exit 2, no output."""
    import shutil

    cells = ROOT / "examples" / "cells"

    def folder(name, edit=None):
        path = tmp_path / name
        shutil.copytree(cells, path)
        if edit:
            file, text = edit
            (path / file).write_text(text if file == "cells.yaml" else (path / file).read_text() + text)
        return path

    out = tmp_path / "coefficients.yaml"
    (tmp_path / "empty").mkdir()
    cases = [
        (tmp_path / "missing", ("missing", "not a folder of cells")),
        (tmp_path / "empty", ("empty", "no BDF file")),
        (folder("unknown", ("A01.yaml", "cathode: NOPE\n")), ("A01.yaml", "unknown cathode 'NOPE'")),
        (folder("typo", ("A02.yaml", "temprature: 25 degC\n")), ("A02.yaml", "did you mean 'temperature'")),
        (folder("yaml", ("cells.yaml", "metal: [1, 2\n")), ("cells.yaml", "malformed YAML at line")),
        (folder("range", ("A03.yaml", "stack_pressure: -2 MPa\n")), ("A03.yaml", "stack_pressure")),
    ]
    for path, names in cases:
        one_line(capsys, ["calibrate", "--cells", path, "-o", out], *names, code=2)
        assert not out.exists()


@pytest.fixture
def busy_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_serve_refuses_bad_ports_and_wildcard_origins_in_one_line(capsys, busy_port):
    one_line(capsys, ["serve", EXAMPLE_STORE, "--port", "70000"], "--port 70000", code=2)
    one_line(capsys, ["serve", EXAMPLE_STORE, "--port", "0"], "--port 0", code=2)
    one_line(capsys, ["serve", EXAMPLE_STORE, "--port", busy_port], f"127.0.0.1:{busy_port}", "cannot listen", code=2)
    for origin in ("*", "*:*", "*.example.org:443"):
        one_line(capsys, ["serve", EXAMPLE_STORE, "--origin", origin], f"--origin {origin}", "--insecure", code=2)


# --------------------------------------------------------------------------- the catch-all
def test_unexpected_errors_are_one_line_naming_command_and_input(tmp_path, capsys, monkeypatch):
    import dse.spec

    def broken(path):
        raise RuntimeError("a bug\nwith a second line")

    monkeypatch.setattr(dse.spec, "load_design", broken)
    line = one_line(capsys, ["evaluate", DESIGN], "dse evaluate", str(DESIGN), "RuntimeError: a bug", "--debug", code=1)
    assert "second line" not in line
    with pytest.raises(RuntimeError, match="a bug"):
        main(["--debug", "evaluate", str(DESIGN)])


def test_the_console_script_prints_no_traceback(tmp_path):
    """The real entry point in a fresh process: a trigger that was a traceback is now one line."""
    path = design_with(tmp_path, "charge_rate: C/5", "charge_rate: C/0")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "dse.cli", "evaluate", str(path)], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {path}: charge_rate: 'C/0' divides by 0: C/x needs a finite, non-zero x"
    ]


# --------------------------------------------------------------------------- catalogs
@pytest.fixture
def catalog(tmp_path) -> Path:
    """A copy of ``catalogs/`` with its own copy of the example store; returns the collection file."""
    root = tmp_path / "catalogs"
    shutil.copytree(CATALOGS, root, ignore=shutil.ignore_patterns("specs"))
    return root / "example.json"


def item_path(catalog: Path) -> Path:
    return catalog.parent / "example" / f"{ENTRY}.json"


def rewrite_manifest(catalog: Path, change) -> Path:
    """Change the manifest with ``change(objects)`` and re-sign it in the item, as an attacker can."""
    item_file = item_path(catalog)
    item = json.loads(item_file.read_text())
    manifest_file = (item_file.parent / item["assets"]["manifest"]["href"]).resolve()
    manifest = json.loads(manifest_file.read_text())
    change(manifest["objects"])
    data = json.dumps(manifest).encode()
    manifest_file.write_bytes(data)
    item["assets"]["manifest"]["file:checksum"] = _multihash(data)
    item_file.write_text(json.dumps(item))
    return manifest_file


def a_chunk(catalog: Path) -> str:
    manifest = next((catalog.parent / "example").glob("*.manifest.json"))
    return next(k for k in json.loads(manifest.read_text())["objects"] if "/c/" in k)


@pytest.mark.parametrize(
    "key",
    ["../../../etc/passwd", "/etc/passwd", "li/../../secret.txt", "li//cost", "./li/cost", "li\\..\\..\\secret.txt"],
)
def test_manifest_keys_must_stay_inside_the_store(catalog, capsys, key):
    secret = catalog.parent / "stores" / "secret.txt"
    secret.write_text("do not read")
    rewrite_manifest(catalog, lambda objects: objects.update({key: [11, "0" * 64]}))
    line = one_line(capsys, ["catalog", "verify", catalog, ENTRY], "not a relative path inside the store", code=2)
    assert "11 bytes" not in line and "sha256" not in line


@pytest.mark.parametrize("kind", ["symlink-out", "dev-zero", "fifo", "directory"])
def test_store_objects_are_read_only_inside_and_only_when_regular(catalog, capsys, kind):
    key = a_chunk(catalog)
    obj = catalog.parent / "stores" / "anode-free-small.zarr" / key
    outside = catalog.parent / "outside.bin"
    outside.write_bytes(obj.read_bytes())  # same bytes: only the containment check can tell
    obj.unlink()
    if kind == "symlink-out":
        obj.symlink_to(outside)
    elif kind == "dev-zero":
        obj.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(obj)
    else:
        obj.mkdir()
    t = time.perf_counter()
    rc = main(["catalog", "verify", str(catalog), ENTRY])
    err = capsys.readouterr().err
    assert time.perf_counter() - t < 30
    assert rc == 1 and "Traceback" not in err
    expected = {
        "symlink-out": "links outside the store (not read)",
        "dev-zero": "links outside the store (not read)",
        "fifo": "is not a regular file (a device, FIFO or socket), not read",
        "directory": "is a directory, not read",
    }[kind]
    lines = [line for line in err.splitlines() if key in line]
    assert len(lines) == 1 and lines[0].endswith(f"anode-free-small.zarr: {key}: {expected}"), err


def test_catalog_files_are_regular_and_bounded(catalog, capsys, monkeypatch):
    item_file = item_path(catalog)
    item_file.unlink()
    item_file.symlink_to("/dev/zero")
    one_line(capsys, ["catalog", "list", catalog], str(item_file), "not a regular file", code=2)
    item_file.unlink()
    os.mkfifo(item_file)
    one_line(capsys, ["catalog", "show", catalog, ENTRY], str(item_file), "not a regular file", code=2)


def test_oversized_manifest_is_refused(catalog, capsys, monkeypatch):
    manifest = rewrite_manifest(
        catalog, lambda objects: objects.update({f"li/pad/{i}": [1, "0" * 64] for i in range(2000)})
    )
    size = manifest.stat().st_size
    monkeypatch.setenv("DSE_MAX_JSON_BYTES", str(size - 1))
    one_line(
        capsys, ["catalog", "verify", catalog, ENTRY], str(manifest), f"is {size:,} bytes", "DSE_MAX_JSON_BYTES", code=2
    )


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("properties", "dse:n_designs"), "many", "dse:n_designs"),
        (("properties", "dse:n_designs"), -3, "dse:n_designs"),
        (("properties", "title"), ["a", "list"], "title"),
        (("properties", "description"), {"an": "object"}, "description"),
        (("properties", "dse:objectives"), ["cost"], "dse:objectives"),
        (("properties", "dse:objectives"), {"cost": "down"}, "dse:objectives"),
        (
            ("properties", "dse:scenarios"),
            {"li": {"kind": "grid", "dims": {"x": "2"}, "n_designs": 2}},
            "dse:scenarios",
        ),
        (("properties", "dse:scenarios"), {"li": "grid"}, "dse:scenarios"),
        (("properties", "sci:doi"), 10.1234, "sci:doi"),
        (("assets", "zarr", "dse:bytes"), 1.5, "assets.zarr.dse:bytes"),
        (("assets", "zarr", "dse:objects"), True, "assets.zarr.dse:objects"),
    ],
    ids=lambda v: str(v)[:30],
)
def test_malformed_optional_item_fields_are_one_line(catalog, capsys, path, value, field):
    item_file = item_path(catalog)
    item = json.loads(item_file.read_text())
    node = item
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    item_file.write_text(json.dumps(item))
    for command in (["catalog", "list", catalog], ["catalog", "show", catalog, ENTRY]):
        one_line(capsys, command, str(item_file), field, code=2)


@pytest.mark.parametrize("value", [[1], ["1", "0" * 64], [-1, "0" * 64], [1, "xyz"], {"size": 1}, [True, "0" * 64]])
def test_malformed_manifest_entries_are_one_line(catalog, capsys, value):
    key = a_chunk(catalog)
    rewrite_manifest(catalog, lambda objects: objects.update({key: value}))
    one_line(capsys, ["catalog", "verify", catalog, ENTRY], key, "must be [size in bytes, sha256 hex]", code=2)


def test_titles_of_catalog_entries_print_without_markup(catalog, capsys):
    item_file = item_path(catalog)
    item = json.loads(item_file.read_text())
    item["properties"]["title"] = "[/x] [bold]" + "y" * 100_000
    item_file.write_text(json.dumps(item))
    t = time.perf_counter()
    assert main(["catalog", "list", str(catalog)]) == 0
    assert main(["catalog", "show", str(catalog), ENTRY]) == 0
    out = capsys.readouterr().out
    assert time.perf_counter() - t < 20
    assert "[/x]" in out and "[bold]y" in out and "y" * 2001 not in out


# --------------------------------------------------------------------------- a real server
def http_get(url: str, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def is_busy(url: str) -> bool:
    """Open a session as a browser would (Bokeh's websocket client): is it the "busy" page?"""
    import panel  # noqa: F401 - registers Panel's models with Bokeh's client
    import panel.models.tabulator  # noqa: F401 - the front table's model, registered on first import only
    from bokeh.client import pull_session

    session = pull_session(url=url + "/")
    try:
        texts = [
            m.text
            for root in session.document.roots
            for m in root.references()
            if isinstance(getattr(m, "text", None), str)
        ]
    finally:
        session.close()
    return any("The dashboard is busy" in text for text in texts)


def start_server(tmp_path: Path, extra_path: Path, env: dict) -> tuple[subprocess.Popen, int, Path]:
    """A real ``dse serve`` of the example store on 127.0.0.1; returns the process, its port and its log."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "serve.log"
    env = {**os.environ, **env, "PYTHONPATH": f"{ROOT}{os.pathsep}{extra_path}", "PYTHONUNBUFFERED": "1"}
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dse.cli", "serve", str(EXAMPLE_STORE), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
    deadline = time.time() + 300
    while time.time() < deadline:
        assert proc.poll() is None, log.read_text()
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port, log
        time.sleep(0.3)
    proc.kill()
    raise AssertionError("dse serve did not start: " + log.read_text())


@pytest.mark.slow
def test_served_dashboard_imports_nothing_from_a_url_and_bounds_sessions(tmp_path):
    from dashboards.server import UNUSED_SESSION_SECONDS

    marker = tmp_path / "imported"
    modules = tmp_path / "modules"
    modules.mkdir()
    name = f"dse_import_probe_{os.getpid()}"
    (modules / f"{name}.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\nclass X:\n    __css__ = ['x.css']\n"
    )
    (modules / "x.css").write_text("body {}")
    proc, port, log = start_server(tmp_path, modules, {"DSE_MAX_SESSIONS": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        # a module on the server's path with an import side effect, and standard-library ones
        for path in (
            f"/components/{name}/X/__css__/x.css",
            "/components/antigravity/x/__css__/y",
            "/components/this/x/__css__/y",
            "/components/panel.tests.conftest/x/__css__/y",
        ):
            assert http_get(url + path)[0] == 404, path
        assert not marker.exists(), "the server imported a module named in a URL"
        # a plain GET builds one dashboard (the limit here); the next session gets the small busy page
        status, page = http_get(url + "/")
        assert status == 200 and "<title>dse" in page
        t = time.perf_counter()
        assert is_busy(url)
        # the unused session expires, and then a dashboard is served again
        time.sleep(UNUSED_SESSION_SECONDS + 10)
        assert not is_busy(url), log.read_text()
        assert time.perf_counter() - t > UNUSED_SESSION_SECONDS
    finally:
        proc.terminate()
        proc.wait(timeout=30)
