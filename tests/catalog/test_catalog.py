"""Catalogs: publish, discover, verify and open shared results stores.

Real stores (copies of the committed example store), a real S3-compatible
server (moto on loopback, ``tests/conftest.py``), a real HTTP server on
loopback, real processes for concurrent ``add`` and for ``dse serve``.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import fsspec
import pystac
import pytest
import xarray as xr

import dse
import dse.catalog as catalog
from dse.cli import main
from dse.errors import DseError
from dse.store import open_results
from dse.store.validate import validate_store
from tests.conftest import ROOT

EXAMPLE_CATALOG = ROOT / "catalogs" / "example.json"
EXAMPLE_ID = "anode-free-small"
EXAMPLE_STORE = ROOT / "catalogs" / "stores" / f"{EXAMPLE_ID}.zarr"


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_same_results(left: dict[str, xr.Dataset], right: dict[str, xr.Dataset]) -> None:
    """Same scenarios, values, coordinates and attributes (of the datasets and every variable)."""
    assert list(left) == list(right)
    for name in left:
        xr.testing.assert_identical(left[name].load(), right[name].load())


def chunk_keys(manifest: dict, n: int) -> list[str]:
    """``n`` chunk objects of different arrays (not metadata)."""
    keys, arrays = [], set()
    for key in sorted(manifest["objects"]):
        array = key.split("/c/")[0]
        if "/c/" in key and not key.startswith("_dse") and "/_dse/" not in key and array not in arrays:
            keys.append(key)
            arrays.add(array)
    assert len(keys) >= n
    return keys[:n]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def subprocess_env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


@pytest.fixture(scope="module")
def local_store(tmp_path_factory) -> str:
    """A copy of the committed example store (two grid scenarios, 3,360 designs)."""
    path = tmp_path_factory.mktemp("stores") / "results.zarr"
    shutil.copytree(EXAMPLE_STORE, path)
    return str(path)


@pytest.fixture(scope="module")
def team_template(tmp_path_factory, local_store) -> Path:
    """A directory with a store and a local catalog listing it (built once)."""
    base = tmp_path_factory.mktemp("team")
    shutil.copytree(local_store, base / "results.zarr")
    catalog.add(
        str(base / "results.zarr"),
        str(base / "team.json"),
        title="Team results",
        id="team-results",
        license="CC-BY-4.0",
    )
    return base


@pytest.fixture()
def team(tmp_path, team_template) -> tuple[str, str]:
    """A fresh copy of the team catalog and its store: (catalog path, entry id)."""
    shutil.copytree(team_template, tmp_path, dirs_exist_ok=True)
    return str(tmp_path / "team.json"), "team-results"


# --------------------------------------------------------------------------- the committed example
def test_committed_example_verifies_opens_and_is_a_valid_store():
    entry = catalog.show(EXAMPLE_CATALOG, EXAMPLE_ID)
    assert Path(entry.href) == EXAMPLE_STORE
    assert catalog.verify(EXAMPLE_CATALOG, EXAMPLE_ID) == []
    assert validate_store(entry.href) == []
    assert entry.n_designs == sum(ds.attrs["dse_n_designs"] for ds in open_results(entry.href).values())
    assert (ROOT / "catalogs" / "specs" / f"{EXAMPLE_ID}.yaml").read_text() == entry.spec
    # git keeps the store despite `*.zarr/` in .gitignore
    ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", str(EXAMPLE_STORE / "zarr.json")])
    assert ignored.returncode == 1


def test_example_is_stac_that_pystac_reads():
    collection = pystac.Collection.from_file(str(EXAMPLE_CATALOG))
    items = list(collection.get_items())
    assert [i.id for i in items] == [e.id for e in catalog.entries(EXAMPLE_CATALOG)]
    item = items[0]
    assert Path(item.assets["zarr"].get_absolute_href()) == EXAMPLE_STORE
    assert item.assets["zarr"].media_type == "application/vnd+zarr"
    manifest = Path(item.assets["manifest"].get_absolute_href())
    assert item.assets["manifest"].extra_fields["file:checksum"] == catalog._multihash(manifest.read_bytes())
    assert any("scientific" in uri for uri in item.stac_extensions)


def test_relative_hrefs_open_from_a_clone_anywhere(tmp_path):
    clone = tmp_path / "somewhere" / "else"
    shutil.copytree(ROOT / "catalogs", clone)
    moved = clone / "example.json"
    entry = catalog.show(moved, EXAMPLE_ID)
    assert Path(entry.href) == clone / "stores" / f"{EXAMPLE_ID}.zarr"
    assert catalog.verify(moved, EXAMPLE_ID) == []
    assert_same_results(catalog.open_all(moved, EXAMPLE_ID), open_results(str(EXAMPLE_STORE)))


# --------------------------------------------------------------------------- local round trip, CLI
def test_add_records_provenance_of_the_store(team, local_store):
    path, entry_id = team
    entry = catalog.show(path, entry_id)
    root = json.loads((Path(local_store) / "zarr.json").read_text())["attributes"]
    datasets = open_results(local_store)
    assert entry.spec == root["dse_spec"] and entry.spec_hash == root["dse_spec_hash"]
    assert entry.dse_version == dse.__version__ and entry.git_commit == root["dse_git_commit"]
    assert entry.created.rstrip("Z") == root["created"].removesuffix("+00:00")
    assert entry.license == "CC-BY-4.0"
    assert entry.scenarios == {
        name: {
            "kind": ds.attrs["dse_kind"],
            "dims": {d: ds.sizes[d] for d in ds.attrs["dse_dims"]},
            "n_designs": ds.attrs["dse_n_designs"],
        }
        for name, ds in datasets.items()
    }
    assert entry.objectives == {
        n: v.attrs["dse_sense"] for n, v in datasets["li"].data_vars.items() if "dse_sense" in v.attrs
    }
    manifest = json.loads(Path(entry.manifest_url).read_text())
    on_disk = sorted(str(p.relative_to(local_store)) for p in Path(local_store).rglob("*") if p.is_file())
    assert sorted(manifest["objects"]) == on_disk
    assert entry.n_objects == len(on_disk)
    assert entry.size == sum((Path(local_store) / k).stat().st_size for k in on_disk)


def test_cli_add_list_show_open_verify(tmp_path, local_store, capsys):
    cat = tmp_path / "cli.json"
    code, out, err = run(
        capsys,
        "catalog",
        "add",
        local_store,
        "--catalog",
        cat,
        "--title",
        "CLI results",
        "--license",
        "CC-BY-4.0",
        "--citation",
        "A. Person (2026), dse results",
        "--doi",
        "10.1234/x",
    )
    assert code == 0, err
    assert "added 'cli-results'" in out
    code, out, err = run(capsys, "catalog", "list", cat)
    assert code == 0 and "cli-results" in out and "CLI results" in out
    code, out, err = run(capsys, "catalog", "show", cat, "cli-results", "--spec")
    assert code == 0
    for text in (
        "CC-BY-4.0",
        "A. Person (2026)",
        "10.1234/x",
        "scenario li",
        "cycle_life (max)",
        json.loads((Path(local_store) / "zarr.json").read_text())["attributes"]["dse_spec"].splitlines()[2],
    ):
        assert text in out
    code, out, err = run(capsys, "catalog", "open", cat, "cli-results", "--scenario", "na", "--verify")
    assert code == 0 and "xarray.Dataset" in out and "scenario na" in out and "scenario li" not in out
    code, out, err = run(capsys, "catalog", "verify", cat, "cli-results")
    assert code == 0 and "match their checksums" in out


def test_open_returns_one_scenario_as_a_dataset(team, local_store):
    path, entry_id = team
    ds = dse.catalog.open(path, entry_id, scenario="na")
    xr.testing.assert_identical(ds.load(), open_results(local_store)["na"].load())
    with pytest.raises(DseError, match="holds 2 scenarios"):
        catalog.open(path, entry_id)
    with pytest.raises(DseError, match="did you mean 'na'"):
        catalog.open(path, entry_id, scenario="Na")


# --------------------------------------------------------------------------- object storage
@pytest.fixture(scope="module")
def published(s3_endpoint, local_store):
    """The local store published to s3 through ``dse catalog add --publish`` into an s3 catalog."""
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket="catalogs")
    code = main(
        [
            "catalog",
            "add",
            local_store,
            "--catalog",
            "s3://catalogs/team.json",
            "--title",
            "Published results",
            "--publish",
            "s3://results/published",
            "--license",
            "CC-BY-4.0",
            "--endpoint-url",
            s3_endpoint,
        ]
    )
    assert code == 0
    return "s3://catalogs/team.json", "published-results", {"endpoint_url": s3_endpoint}


def test_published_store_opens_from_the_s3_catalog_equal_to_the_local_one(published, local_store):
    url, entry_id, options = published
    entry = catalog.show(url, entry_id, options)
    assert entry.href == "s3://results/published/published-results.zarr"
    assert entry.manifest_url.startswith("s3://catalogs/team/")
    # verify=True: every object checked against the manifest first (a difference raises)
    assert_same_results(catalog.open_all(url, entry_id, options, verify=True), open_results(local_store))


def test_no_credentials_in_the_catalog_or_the_published_store(published, aws_env):
    url, entry_id, options = published
    fs = fsspec.filesystem("s3", **options)
    texts = [fs.cat_file(p).decode() for p in fs.find("catalogs")]
    texts += [fs.cat_file(p).decode() for p in fs.find("results/published") if p.endswith("zarr.json")]
    assert len(texts) > 3
    assert any(entry_id in t for t in texts)
    for secret in (aws_env["AWS_ACCESS_KEY_ID"], aws_env["AWS_SECRET_ACCESS_KEY"]):
        assert not any(secret in t for t in texts)


def test_verify_names_a_changed_a_truncated_and_a_missing_object_on_s3(s3_endpoint, local_store):
    options = {"endpoint_url": s3_endpoint}
    url = "s3://results/corrupt/team.json"
    entry = catalog.add(
        local_store, url, title="To corrupt", publish="s3://results/corrupt/stores", storage_options=options
    )
    manifest = json.loads(fsspec.filesystem("s3", **options).cat_file(entry.manifest_url))
    changed, truncated, missing = chunk_keys(manifest, 3)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    prefix = "corrupt/stores/to-corrupt.zarr"
    data = bytearray(s3.get_object(Bucket="results", Key=f"{prefix}/{changed}")["Body"].read())
    data[len(data) // 2] ^= 0xFF
    s3.put_object(Bucket="results", Key=f"{prefix}/{changed}", Body=bytes(data))
    data = s3.get_object(Bucket="results", Key=f"{prefix}/{truncated}")["Body"].read()
    s3.put_object(Bucket="results", Key=f"{prefix}/{truncated}", Body=data[: len(data) // 2])
    s3.delete_object(Bucket="results", Key=f"{prefix}/{missing}")

    problems = catalog.verify(url, entry.id, options)
    by_key = dict(p.split(": ", 1) for p in problems)
    assert len(problems) == 3 and set(by_key) == {changed, truncated, missing}
    assert by_key[changed].startswith("changed (sha256")
    assert by_key[truncated].startswith("truncated (")
    assert by_key[missing] == "missing"


# --------------------------------------------------------------------------- http
@pytest.fixture()
def http_root(tmp_path):
    """A loopback HTTP server over a copy of catalogs/ (a colleague's web server)."""
    root = tmp_path / "www"
    shutil.copytree(ROOT / "catalogs", root)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        request_queue_size = 256  # fsspec reads many objects at once; the default backlog of 5 stalls it

    server = Server(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_catalog_over_http_opens_verifies_and_detects_a_change(http_root, capsys):
    root, base = http_root
    url = f"{base}/example.json"
    entry = catalog.show(url, EXAMPLE_ID)
    assert entry.href == f"{base}/stores/{EXAMPLE_ID}.zarr"
    assert catalog.verify(url, EXAMPLE_ID) == []
    assert_same_results(catalog.open_all(url, EXAMPLE_ID), open_results(str(EXAMPLE_STORE)))
    code, out, _ = run(capsys, "catalog", "list", url)
    assert code == 0 and EXAMPLE_ID in out
    manifest = json.loads(Path(catalog.show(EXAMPLE_CATALOG, EXAMPLE_ID).manifest_url).read_text())
    (key,) = chunk_keys(manifest, 1)
    target = root / "stores" / f"{EXAMPLE_ID}.zarr" / key
    target.write_bytes(target.read_bytes()[:-1] + bytes([target.read_bytes()[-1] ^ 1]))
    (problem,) = catalog.verify(url, EXAMPLE_ID)
    assert problem.startswith(f"{key}: changed")
    with pytest.raises(DseError, match="http\\(s\\) catalog is read-only"):
        catalog.add(str(EXAMPLE_STORE), url, title="x")


# --------------------------------------------------------------------------- bad input
def test_unknown_id_lists_and_suggests(team, capsys):
    path, entry_id = team
    with pytest.raises(DseError, match="unknown entry 'team-result'; did you mean 'team-results'"):
        catalog.show(path, "team-result")
    code, out, err = run(capsys, "catalog", "verify", path, "nothing-like-it")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "unknown entry 'nothing-like-it'" in err and "(entries: team-results)" in err


def test_unreachable_and_missing_catalogs(tmp_path, capsys):
    url = f"http://127.0.0.1:{free_port()}/team.json"
    with pytest.raises(DseError, match="cannot read"):
        catalog.load(url)
    code, out, err = run(capsys, "catalog", "list", url)
    assert code == 2 and err.count("\n") == 1 and url in err and "cannot read" in err
    code, out, err = run(capsys, "catalog", "show", tmp_path / "absent.json")
    assert code == 2 and "does not exist" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda text: text[: len(text) // 2], "not valid JSON (line"),
        (
            lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "license"}),
            "field 'license' is missing",
        ),
        (lambda text: json.dumps({**json.loads(text), "type": "Catalogue"}), "field 'type' must be 'Collection'"),
        (
            lambda text: json.dumps({**json.loads(text), "links": [{"rel": "item"}]}),
            "links[0]: field 'href' is missing",
        ),
    ],
)
def test_a_catalog_that_does_not_validate_names_the_field(team, capsys, edit, message):
    path, entry_id = team
    Path(path).write_text(edit(Path(path).read_text()))
    with pytest.raises(DseError) as excinfo:
        catalog.load(path)
    assert message in str(excinfo.value) and path in str(excinfo.value)
    code, _, err = run(capsys, "catalog", "open", path, entry_id)
    assert code == 2 and message in err and err.count("\n") == 1


def test_an_item_without_its_store_href_names_the_field(team, capsys):
    path, entry_id = team
    item_path = Path(catalog.show(path, entry_id).item_url)
    item = json.loads(item_path.read_text())
    del item["assets"]["zarr"]["href"]
    item_path.write_text(json.dumps(item))
    code, _, err = run(capsys, "catalog", "list", path)
    assert code == 2 and "field 'assets.zarr.href' is missing" in err and str(item_path) in err


def test_a_changed_manifest_is_a_checksum_mismatch(team, capsys):
    path, entry_id = team
    manifest = Path(catalog.show(path, entry_id).manifest_url)
    doc = json.loads(manifest.read_text())
    key = next(iter(doc["objects"]))
    doc["objects"][key][1] = "0" * 64  # hide a corruption by editing the manifest
    manifest.write_text(json.dumps(doc))
    with pytest.raises(DseError, match="checksum mismatch"):
        catalog.verify(path, entry_id)
    code, _, err = run(capsys, "catalog", "verify", path, entry_id)
    assert code == 2 and "checksum mismatch" in err and manifest.name in err


def test_cli_verify_names_a_corrupted_chunk_and_open_refuses_it(team, capsys):
    path, entry_id = team
    entry = catalog.show(path, entry_id)
    (key,) = chunk_keys(json.loads(Path(entry.manifest_url).read_text()), 1)
    target = Path(entry.href) / key
    target.write_bytes(target.read_bytes()[:-3])
    code, out, err = run(capsys, "catalog", "verify", path, entry_id)
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"{entry.href}: {key}: truncated ({target.stat().st_size:,} of {target.stat().st_size + 3:,} bytes)"
    ]
    with pytest.raises(DseError, match=f"checksum mismatch: {key}: truncated"):
        catalog.open(path, entry_id, scenario="li", verify=True)
    code, _, err = run(capsys, "catalog", "open", path, entry_id, "--verify")
    assert code == 2 and err.count("\n") == 1 and key in err


def test_local_verify_reports_objects_added_after_cataloguing(tmp_path, local_store):
    store = tmp_path / "store.zarr"
    shutil.copytree(local_store, store)
    path = str(tmp_path / "team.json")
    catalog.add(str(store), path, title="x", id="x")
    (store / "li" / "extra").write_bytes(b"new")
    assert catalog.verify(path, "x") == ["li/extra: not in the manifest (added after the store was catalogued)"]
    shutil.rmtree(store)
    assert catalog.verify(path, "x") == [
        f"store is missing: none of its {catalog.show(path, 'x').n_objects:,} objects found"
    ]


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def test_failed_adds_leave_the_catalog_as_it_was(team, tmp_path, local_store, capsys):
    path, entry_id = team
    before = snapshot(tmp_path)
    incomplete = tmp_path / "incomplete.zarr"
    shutil.copytree(local_store, incomplete)
    (incomplete / "na" / "_dse" / "completed" / "c" / "0").unlink()  # a block never written
    with pytest.raises(DseError, match="is incomplete: .* --allow-incomplete"):
        catalog.add(str(incomplete), path, title="incomplete")
    shutil.rmtree(incomplete)
    code, _, err = run(capsys, "catalog", "add", local_store, "--catalog", path, "--title", "Team results")
    assert code == 2 and "already in the catalog" in err and err.count("\n") == 1
    code, _, err = run(capsys, "catalog", "add", tmp_path / "nope.zarr", "--catalog", path, "--title", "x")
    assert code == 2 and "not a Zarr store" in err
    with pytest.raises(DseError, match="cannot"):  # object storage that is not there
        catalog.add(
            local_store,
            path,
            title="unreachable",
            publish="s3://results/x",
            storage_options={
                "endpoint_url": f"http://127.0.0.1:{free_port()}",
                "config_kwargs": {"retries": {"max_attempts": 1}},
            },
        )
    with pytest.raises(DseError, match="local store cannot be listed in a remote catalog"):
        catalog.add(local_store, "s3://results/team.json", title="x")
    with pytest.raises(DseError, match="must end in .json"):
        catalog.add(local_store, str(tmp_path / "team"), title="x")
    with pytest.raises(DseError, match="cannot publish to http"):
        catalog.add(local_store, path, title="x", publish="https://example.org/stores")
    # a failure half-way through the writes: the item file's place is taken by a directory
    blocker = tmp_path / "team" / "blocked.json"
    blocker.mkdir()
    with pytest.raises(DseError, match="cannot write"):
        catalog.add(local_store, path, title="blocked")
    blocker.rmdir()
    assert snapshot(tmp_path) == before  # same files, same bytes: no partial or temporary file


def test_a_new_catalog_that_cannot_be_written_is_not_created(tmp_path, local_store):
    (tmp_path / "team").write_text("a file where the items directory should go")
    with pytest.raises(DseError, match="cannot write"):
        catalog.add(local_store, str(tmp_path / "team.json"), title="x")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".team.json.lock", "team"]


def test_replace_rewrites_the_entry_and_drops_the_old_manifest(team, local_store):
    path, entry_id = team
    old = catalog.show(path, entry_id)
    catalog.add(local_store, path, title="Team results v2", id=entry_id, replace=True, citation="v2")
    new = catalog.show(path, entry_id)
    assert new.title == "Team results v2" and new.citation == "v2"
    assert [e.id for e in catalog.entries(path)] == [entry_id]
    assert not Path(old.manifest_url).exists() or old.manifest_url == new.manifest_url
    assert catalog.verify(path, entry_id) == []


# --------------------------------------------------------------------------- concurrency
ADD_SCRIPT = """
import sys
from dse.catalog import add
add(sys.argv[1], sys.argv[2], title=sys.argv[3])
"""


def blocked_on(lock: Path) -> int:
    """Processes waiting for the flock of ``lock`` (Linux /proc/locks: "->" marks a waiter)."""
    inode = os.stat(lock).st_ino
    lines = Path("/proc/locks").read_text().splitlines()
    return sum(1 for line in lines if "->" in line and "FLOCK" in line and line.split()[-3].endswith(f":{inode}"))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux /proc/locks")
def test_two_concurrent_adds_both_land(tmp_path, local_store):
    import fcntl

    path = tmp_path / "team.json"
    lock = tmp_path / ".team.json.lock"
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # both adds must wait here
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", ADD_SCRIPT, local_store, str(path), title],
                env=subprocess_env(),
                stderr=subprocess.PIPE,
                text=True,
            )
            for title in ("first", "second")
        ]
        deadline = time.time() + 120
        while blocked_on(lock) < 2:
            assert all(p.poll() is None for p in procs), [p.stderr.read() for p in procs]
            assert time.time() < deadline, "the adds never waited for the catalog lock"
            time.sleep(0.1)
        assert not path.exists()  # nothing written while the lock is held
        fcntl.flock(held, fcntl.LOCK_UN)
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    assert sorted(e.id for e in catalog.entries(path)) == ["first", "second"]
    assert catalog.verify(path, "first") == [] and catalog.verify(path, "second") == []


# --------------------------------------------------------------------------- dashboard
def test_serve_needs_an_entry_for_a_catalog(capsys):
    code, _, err = run(capsys, "serve", EXAMPLE_CATALOG)
    assert code == 2 and "is a catalog: name an entry" in err and EXAMPLE_ID in err
    code, _, err = run(capsys, "serve", EXAMPLE_CATALOG, "no-such-entry")
    assert code == 2 and "unknown entry" in err


@pytest.mark.slow
def test_serve_a_catalog_entry(tmp_path):
    """The dashboard loads the entry's store (the port opens once it is loaded and warmed up)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dse.cli", "serve", str(EXAMPLE_CATALOG), EXAMPLE_ID, "--port", str(port)],
        env=subprocess_env(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + 180
        while True:
            assert proc.poll() is None, proc.stdout.read()
            assert time.time() < deadline, "dashboard did not start"
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0]
    feasible = sum(int(ds.feasible.sum()) for ds in open_results(str(EXAMPLE_STORE)).values())
    assert f"loaded {feasible:,} feasible designs" in out
    assert str(EXAMPLE_STORE) in out


def test_serve_refuses_a_catalog_entry_whose_store_lies_outside_the_roots(tmp_path, capsys):
    """A catalog inside the allowed root whose entry points at a store elsewhere is not served."""
    lab = tmp_path / "lab"
    shutil.copytree(ROOT / "catalogs", lab / "catalogs", ignore=shutil.ignore_patterns("stores"))
    outside = tmp_path / "elsewhere" / "stores"
    outside.parent.mkdir()
    (lab / "catalogs" / "stores").symlink_to(outside)  # the item's relative href now leads out of the root
    shutil.copytree(EXAMPLE_STORE, outside / EXAMPLE_STORE.name)
    assert catalog.verify(lab / "catalogs" / "example.json", EXAMPLE_ID) == []  # a sound entry in itself
    code = main(["serve", str(lab / "catalogs" / "example.json"), EXAMPLE_ID, "--root", str(lab)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "is outside the allowed roots" in err[0], err
