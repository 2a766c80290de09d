"""Security hardening (docs/security.md): exposure of the dashboard, no code from data,
limits on hostile input, and no credentials in outputs.

Servers are real ``dse serve`` processes; sweeps write real stores (and one
goes to an S3-compatible server on loopback). The dashboard's file accesses
are watched with a Python audit hook installed in the server process, so "the
app never opened that path" is observed, not assumed.
"""

from __future__ import annotations

import ast
import base64
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import tracemalloc
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
import yaml

from dse.access import check_allowed, is_loopback, serve_security, websocket_origins
from dse.cli import main
from dse.errors import DseError, SpecError, StoreError, YamlLimitError
from dse.filters import parse_where
from dse.limits import estimate_sweep
from dse.safe_yaml import loads, read_text_bounded
from dse.spec import load_design, load_sweep, parse_sweep
from tests.integration.test_dashboard_browser import CHROMIUM, free_port

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}

# A server process with an audit hook that logs every file or directory it opens whose path contains
# one of the markers (sys.argv[2], comma-separated) to sys.argv[1]; the rest is `dse ...`.
LAUNCHER = textwrap.dedent("""
    import os, sys
    log = open(sys.argv[1], "a", buffering=1)
    markers = sys.argv[2].split(",")
    def hook(event, args):
        if event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.path.abspath(os.fsdecode(args[0]))
            if any(m in path for m in markers):
                log.write(f"{event} {path}\\n")
    sys.addaudithook(hook)
    from dse.cli import main
    sys.exit(main(sys.argv[3:]))
""")


class Server:
    """A ``dse serve`` process; its stdout and stderr go to a file."""

    def __init__(
        self, args: list[str], tmp: Path, markers: tuple[str, ...] = ("/nonexistent-marker",), cwd: Path | None = None
    ):
        self.port = free_port()
        self.output = tmp / f"serve-{self.port}.log"
        self.opened = tmp / f"opened-{self.port}.log"
        self.opened.touch()
        with open(self.output, "w") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    LAUNCHER,
                    str(self.opened),
                    ",".join(markers),
                    "serve",
                    *args,
                    "--port",
                    str(self.port),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=ENV,
                cwd=cwd or tmp,
            )

    def wait(self, timeout: float = 300) -> Server:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.log())
            with socket.socket() as probe:
                probe.settimeout(1)
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.3)
        raise RuntimeError("dashboard did not start: " + self.log())

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log(self) -> str:
        return self.output.read_text()

    def opened_paths(self) -> list[str]:
        return self.opened.read_text().splitlines()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


def get(url: str, opener=None, data: bytes | None = None) -> tuple[int, str, str]:
    """(status, final URL, body) without raising on 4xx/5xx."""
    opener = opener or urllib.request.build_opener()
    try:
        with opener.open(url, data=data, timeout=120) as r:
            return r.status, r.geturl(), r.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, url, exc.read().decode(errors="replace")


# --------------------------------------------------------------------------- dashboard exposure
@pytest.fixture(scope="module")
def decoy(small_store, tmp_path_factory):
    """A second valid store the dashboard must never open, titled DECOY."""
    import zarr

    path = tmp_path_factory.mktemp("decoy-area") / "decoy-store.zarr"
    shutil.copytree(small_store, path)
    root = zarr.open_group(str(path), mode="r+")
    root.attrs["title"] = "DECOY"
    zarr.consolidate_metadata(str(path))
    return path


@pytest.fixture(scope="module")
def served(small_store, decoy, tmp_path_factory):
    """`dse serve` of small_store with defaults, watched for opens of the decoy (and of its own store)."""
    tmp = tmp_path_factory.mktemp("served")
    # run from the decoy's folder so that a relative '../decoy-area/...' or 'decoy-store.zarr' would resolve
    server = Server([small_store], tmp, markers=("decoy-store", str(Path(small_store).resolve())), cwd=decoy.parent)
    server.wait()
    yield server
    server.stop()


def test_default_bind_is_loopback_with_its_origins_only(served):
    assert (
        "127.0.0.1" in served.log()
        and f"websocket origins: 127.0.0.1:{served.port}, localhost:{served.port}" in served.log()
    )
    listening = [
        c
        for c in __import__("psutil").Process(served.proc.pid).net_connections(kind="inet")
        if c.status == "LISTEN" and c.laddr.port == served.port
    ]
    assert listening and all(c.laddr.ip in ("127.0.0.1", "::1") for c in listening)


def websocket_handshake(port: int, origin: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(
        "GET",
        "/ws",
        headers={
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
            "Origin": origin,
        },
    )
    status = conn.getresponse().status
    conn.close()
    return status


def test_websocket_from_another_origin_is_refused(served):
    assert websocket_handshake(served.port, "http://evil.example:5006") == 403
    assert websocket_handshake(served.port, f"http://localhost.evil.example:{served.port}") == 403
    deadline = time.time() + 30
    while "Refusing websocket connection from Origin 'http://evil.example:5006'" not in served.log():
        assert time.time() < deadline, served.log()
        time.sleep(0.2)
    allowed = served.log().split("currently we allow origins ")[1].splitlines()[0]
    assert ast.literal_eval(allowed) == {f"127.0.0.1:{served.port}", f"localhost:{served.port}"}


HOSTILE_QUERIES = [
    "?store={decoy}",
    "?store=../decoy-area/decoy-store.zarr",
    "?store=decoy-store.zarr",
    "?path={decoy}&catalog={decoy}&file={decoy}&url=file://{decoy}&source={decoy}&zarr={decoy}",
    "?x={decoy}&y=../decoy-store.zarr&color=/etc/passwd&front=../../x",
    "?filters=" + urllib.parse.quote(json.dumps({"{decoy}": ["x"], "cathode": "{decoy}", "stack_pressure": "../x"})),
]
HOSTILE_PATHS = [
    "/static/../../../../{decoy}/zarr.json",
    "/static/%2e%2e/%2e%2e/{decoy}/zarr.json",
    "/static/{decoy}/zarr.json",
    "/{decoy}/zarr.json",
    "/panel_dist/..%2f..%2f{decoy}/zarr.json",
]


def test_no_url_can_make_the_dashboard_read_another_store(served, decoy, small_store):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    for path in HOSTILE_PATHS:
        status, _, body = get(served.url(path.format(decoy=decoy)))
        assert status >= 400 and "DECOY" not in body, path
    for query in HOSTILE_QUERIES[:3]:  # plain requests run the session function with the query arguments
        status, _, body = get(served.url("/" + query.format(decoy=decoy)))
        assert status == 200 and "DECOY" not in body
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for query in HOSTILE_QUERIES[3:]:
            page.goto(served.url("/" + query.format(decoy=decoy)), timeout=300_000)
            page.wait_for_selector("text=designs on the front", timeout=300_000)
            assert "small store" in page.title() and "DECOY" not in page.content()
        # the URL state is live (so the queries above did reach the app): a valid x is applied
        page.goto(served.url("/?x=specific_energy"), timeout=300_000)
        page.wait_for_selector("text=designs on the front", timeout=300_000)
        # (the axis menu shows the output's label with units; the URL carries its name)
        from dse.vocabulary import OUTPUTS

        shown = page.locator("select").first.input_value()
        assert OUTPUTS["specific_energy"].long_name in shown and "Wh/kg" in shown, shown
        browser.close()
    opened = served.opened_paths()
    assert not [p for p in opened if "decoy-store" in p], opened
    # the hook does see store reads: the served store was opened (at start-up)
    assert any(str(Path(small_store).resolve()) in p for p in opened)


def test_non_loopback_needs_authentication_or_insecure(small_store, tmp_path, capsys):
    assert main(["serve", small_store, "--address", "0.0.0.0", "--port", str(free_port())]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: --address 0.0.0.0: serving beyond this machine needs --basic-auth or --oauth-provider "
        "(or --insecure to serve without authentication)"
    )
    # any address that is not loopback, not only the wildcard
    assert main(["serve", small_store, "--address", "192.0.2.1"]) == 2
    assert "needs --basic-auth" in capsys.readouterr().err
    assert main(["serve", small_store, "--basic-auth", "pw", "--oauth-provider", "github"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["serve", small_store, "--address", "0.0.0.0", "--basic-auth", str(tmp_path / "none.json")]) == 2
    assert "credentials file not found" in capsys.readouterr().err

    server = Server([small_store, "--address", "0.0.0.0", "--insecure"], tmp_path).wait()
    try:
        assert "warning: --insecure: the dashboard on 0.0.0.0" in server.log()
        assert get(server.url())[0] == 200
    finally:
        server.stop()


def test_basic_auth_guards_a_non_loopback_dashboard(small_store, tmp_path):
    credentials = tmp_path / "users.json"
    credentials.write_text(json.dumps({"ada": "correct horse"}))
    server = Server(
        [small_store, "--address", "0.0.0.0", "--basic-auth", str(credentials)], tmp_path, cwd=tmp_path
    ).wait()
    try:
        assert "authentication: basic" in server.log()
        anonymous = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        status, final, body = get(server.url("/"), anonymous)
        assert urllib.parse.urlsplit(final).path == "/login" and "designs" not in body
        form = urllib.parse.urlencode({"username": "ada", "password": "wrong"}).encode()
        status, final, _ = get(server.url("/login"), anonymous, data=form)
        assert "error=" in final
        assert urllib.parse.urlsplit(get(server.url("/"), anonymous)[1]).path == "/login"
        form = urllib.parse.urlencode({"username": "ada", "password": "correct horse"}).encode()
        status, final, body = get(server.url("/login"), anonymous, data=form)
        assert status == 200 and urllib.parse.urlsplit(final).path == "/" and "bokeh" in body.lower()
        assert "correct horse" not in server.log()
    finally:
        server.stop()


def test_security_options_unit():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1") and not is_loopback("no-such-host.invalid")
    assert websocket_origins("::1", 80) == ["[::1]:80", "localhost:80"]
    assert websocket_origins("localhost", 80) == ["localhost:80"]
    assert websocket_origins("192.0.2.1", 80, ["https://dse.lab.example"]) == ["192.0.2.1:80", "dse.lab.example"]
    s = serve_security("0.0.0.0", 8080, basic_auth="pw")
    assert s.auth == "basic" and s.kwargs["basic_auth"] == "pw" and len(s.kwargs["cookie_secret"]) >= 32
    assert serve_security("0.0.0.0", 8080, basic_auth="pw", cookie_secret="fixed").kwargs["cookie_secret"] == "fixed"
    o = serve_security("0.0.0.0", 8080, oauth={"provider": "github", "key": "id", "secret": "s", "redirect_uri": None})
    assert o.auth == "oauth:github" and o.kwargs["oauth_key"] == "id" and "oauth_redirect_uri" not in o.kwargs
    with pytest.raises(DseError, match="need --oauth-provider"):
        serve_security("127.0.0.1", 1, oauth={"key": "id"})
    insecure = serve_security("0.0.0.0", 8080, insecure=True)
    assert insecure.auth == "none" and insecure.warnings


def test_check_allowed(tmp_path):
    root = tmp_path / "lab"
    (root / "runs").mkdir(parents=True)
    (tmp_path / "private").mkdir()
    (root / "runs" / "escape").symlink_to(tmp_path / "private")
    assert check_allowed(str(root / "runs" / "a.zarr"), [str(root)]) == str((root / "runs" / "a.zarr").resolve())
    assert check_allowed(str(root), [str(root)]) == str(root.resolve())
    for bad in (
        str(root / ".." / "private"),
        "/etc",
        str(root / "runs" / "escape" / "x.zarr"),
        str(tmp_path / "lab-other"),
        "relative/../../x",
    ):
        with pytest.raises(DseError, match="outside the allowed roots"):
            check_allowed(bad, [str(root)])
    assert check_allowed("s3://lab/runs/a.zarr", ["s3://lab/runs/"]) == "s3://lab/runs/a.zarr"
    for bad in (
        "s3://lab/runs/%2e%2e/private",
        "s3://lab/runsX/a.zarr",
        "s3://other/runs/a.zarr",
        "gs://lab/runs/a.zarr",
        "s3://key:secret@lab/runs/a.zarr",
        "s3://lab/runs/a.zarr?x=1",
    ):
        with pytest.raises(DseError):
            check_allowed(bad, ["s3://lab/runs"])
    with pytest.raises(DseError, match="outside the allowed roots"):
        check_allowed(str(root / "a.zarr"), [])


def test_serve_refuses_a_store_outside_its_roots(small_store, tmp_path, capsys):
    assert main(["serve", small_store, "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is outside the allowed roots" in err[0]


# --------------------------------------------------------------------------- no code from data
BANNED_CALLS = {"eval", "exec", "compile", "__import__", "execfile"}
BANNED_ATTRS = {
    ("yaml", "load"),
    ("yaml", "unsafe_load"),
    ("yaml", "full_load"),
    ("yaml", "load_all"),
    ("pickle", "loads"),
    ("pickle", "load"),
    ("pd", "eval"),
    ("pandas", "eval"),
    ("marshal", "loads"),
}
BANNED_MODULES = {"pickle", "cPickle", "dill", "cloudpickle", "marshal", "shelve", "numexpr", "jsonpickle"}


def test_sources_have_no_code_from_data_paths():
    """AST audit of the runtime code: no eval/exec, unsafe YAML, pickle, DataFrame.query/eval strings."""
    problems = []
    for base in ("dse", "dashboards"):
        for file in sorted((ROOT / base).rglob("*.py")):
            tree = ast.parse(file.read_text(), filename=str(file))
            for node in ast.walk(tree):
                where = f"{file.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
                if isinstance(node, ast.Import | ast.ImportFrom):
                    names = [a.name for a in node.names] + (
                        [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
                    )
                    if any(n.split(".")[0] in BANNED_MODULES for n in names):
                        problems.append(f"{where}: imports {names}")
                if not isinstance(node, ast.Call):
                    continue
                f = node.func
                if isinstance(f, ast.Name) and f.id in BANNED_CALLS:
                    problems.append(f"{where}: calls {f.id}")
                if isinstance(f, ast.Attribute):
                    owner = f.value.id if isinstance(f.value, ast.Name) else None
                    if (owner, f.attr) in BANNED_ATTRS:
                        problems.append(f"{where}: calls {owner}.{f.attr}")
                    if (
                        f.attr in ("query", "eval")
                        and node.args
                        and isinstance(node.args[0], ast.Constant | ast.JoinedStr | ast.Name | ast.BinOp)
                    ):
                        problems.append(f"{where}: calls .{f.attr}() with an expression string")
                    if f.attr in ("load", "loads") and any(k.arg == "allow_pickle" for k in node.keywords):
                        problems.append(f"{where}: numpy load with allow_pickle")
    assert not problems, problems


def test_the_audit_catches_what_it_looks_for(tmp_path):
    """The audit above is only as good as its patterns: it must flag each of these."""
    sample = "import pickle\nimport yaml\nyaml.load(t)\neval('1')\ndf.query('a > 1')\npd.eval(s)\n"
    tree = ast.parse(sample)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    flagged = [
        c
        for c in calls
        if (isinstance(c.func, ast.Name) and c.func.id in BANNED_CALLS)
        or (
            isinstance(c.func, ast.Attribute)
            and ((getattr(c.func.value, "id", None), c.func.attr) in BANNED_ATTRS or c.func.attr in ("query", "eval"))
        )
    ]
    assert len(flagged) == 4


HOSTILE_WHERE = [
    "__import__('os').system('touch pwned')",
    "metal.__class__",
    "metal.__class__.__bases__[0].__subclasses__()",
    "open('x')",
    "(lambda: 1)()",
    "cathode[0] == 'N'",
    "[c for c in cathode]",
    "f'{cathode}' == 'x'",
    "(x := 1)",
    "getattr(metal, 'lower')",
    "9 ** 9 ** 9 ** 9 > cost",
    "cost // 2 > 1",
    "globals()",
    "cathode.startswith('N')",
    "{**{}}",
    "*cathode",
    "cost if metal else 1",
    "None == cost",
    "b'x' == cathode",
]


@pytest.mark.parametrize("expr", HOSTILE_WHERE)
def test_where_refuses_calls_attributes_imports(expr, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    t = time.perf_counter()
    with pytest.raises(SpecError) as info:
        parse_where(expr, ["metal", "cathode", "cost"], {"metal": "U8", "cathode": "U8", "cost": "f8"})
    assert time.perf_counter() - t < 1
    message = str(info.value)
    assert "\n" not in message and ("unsupported expression" in message or "does not parse" in message), message
    assert not (tmp_path / "pwned").exists()


def test_where_names_must_be_variables():
    with pytest.raises(SpecError, match="'__builtins__' names no input or output"):
        parse_where("__builtins__ == 1", ["cost"])


def test_hostile_where_through_the_cli(small_store, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for expr in ("__import__('os').system('touch pwned')", "metal.__class__ == 1"):
        assert main(["pareto", small_store, "--no-store", "--where", expr]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "unsupported expression" in err[0]
    assert not (tmp_path / "pwned").exists()


PYTHON_TAGS = [
    "!!python/object/apply:os.system ['touch {marker}']",
    "cathode: !!python/object/apply:os.system ['touch {marker}']",
    "name: !!python/name:os.system\n",
    "a: !!python/object/new:subprocess.Popen [['touch', '{marker}']]",
]


@pytest.mark.parametrize("text", PYTHON_TAGS)
def test_yaml_python_tags_are_refused_everywhere(text, tmp_path):
    marker = tmp_path / "pwned"
    f = tmp_path / "evil.yaml"
    f.write_text(text.format(marker=marker))
    for load in (load_sweep, load_design):
        with pytest.raises(SpecError, match="malformed YAML.*could not determine a constructor"):
            load(f)
    from dse.coefficients import load_coefficients
    from dse.errors import CalibrationError

    with pytest.raises(CalibrationError, match="could not determine a constructor"):
        load_coefficients(f)
    assert main(["evaluate", str(f)]) == 2
    assert not marker.exists()


def test_zarr_v2_pickle_store_is_not_read(tmp_path, capsys):
    """A store shared by someone else may carry a pickle codec; dse opens Zarr v3 only."""
    import pickle

    store = tmp_path / "shared.zarr"
    (store / "_dse" / "completed").mkdir(parents=True)
    marker = tmp_path / "pwned"
    (store / ".zgroup").write_text(json.dumps({"zarr_format": 2}))
    (store / ".zattrs").write_text(json.dumps({"dse_store_format": "dse-results/1", "dse_groups": {"s": ""}}))
    (store / "_dse" / ".zgroup").write_text(json.dumps({"zarr_format": 2}))
    (store / "_dse" / "completed" / ".zarray").write_text(
        json.dumps(
            {
                "zarr_format": 2,
                "shape": [1],
                "chunks": [1],
                "dtype": "|O",
                "compressor": None,
                "fill_value": 0,
                "filters": [{"id": "pickle"}],
                "order": "C",
            }
        )
    )

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (store / "_dse" / "completed" / "0").write_bytes(pickle.dumps(Payload()))
    assert main(["validate", str(store)]) != 0
    capsys.readouterr()
    from dse.store import completed_blocks, open_results

    with pytest.raises(StoreError):
        open_results(str(store))
    with pytest.raises((StoreError, Exception)):  # noqa: B017 - any refusal, as long as nothing is unpickled
        completed_blocks(str(store), "")
    assert not marker.exists()


# --------------------------------------------------------------------------- limits
def bounded(fn, seconds: float = 5.0, megabytes: float = 64.0):
    """Run ``fn``; assert it raised a DseError within ``seconds`` and ``megabytes`` of new Python memory."""
    tracemalloc.start()
    t = time.perf_counter()
    try:
        fn()
    except DseError as exc:
        error = exc
    else:
        error = None
    elapsed = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert error is not None, "was accepted"
    assert "\n" not in str(error)
    assert elapsed < seconds, f"took {elapsed:.1f} s"
    assert peak < megabytes * 2**20, f"peak {peak / 2**20:.0f} MB"
    return error


def billion_laughs(levels: int = 9) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_quickly(tmp_path):
    f = tmp_path / "lol.yaml"
    f.write_text(billion_laughs())
    err = bounded(lambda: load_sweep(f))
    assert isinstance(err, YamlLimitError) and "aliases expanded" in str(err)
    # also hidden in a store's attributes (a dashboard reads the stored spec)
    bounded(lambda: loads(billion_laughs(), where="dse_spec"))
    # many cheap aliases
    many = "a: &a x\nb: [" + ", ".join(["*a"] * 1000) + "]\n"
    assert "more than 100 aliases" in str(bounded(lambda: loads(many)))
    recursive = "a: &a [1, *a]\n"
    assert "recursive alias" in str(bounded(lambda: loads(recursive)))


def refused_where(error: Exception, path: Path) -> None:
    """The one line names the file and the line where reading stopped (whoever stopped it)."""
    assert str(error).startswith(f"{path}: "), error
    assert re.search(r"\bline \d+", str(error)), error


def test_deep_nesting_is_refused_quickly(tmp_path):
    # Flow nesting may be stopped by the YAML parser itself (PyYAML >= 6.0.4 has its own depth
    # limit, with its own wording) or by dse's composer; either way: quickly, in one line, naming
    # the file and line.
    f = tmp_path / "deep.yaml"
    f.write_text("inputs: " + "[" * 100_000 + "]" * 100_000 + "\n")
    refused_where(bounded(lambda: load_sweep(f)), f)
    # block nesting passes the parser and is dse's to refuse, at its own documented limit
    f.write_text("inputs:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 500)))
    error = bounded(lambda: load_design(f))
    refused_where(error, f)
    assert "nested deeper than 50" in str(error)
    # just inside the limit, the same shape is read
    f.write_text("inputs:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 49)))
    with pytest.raises(DseError) as inside:
        load_design(f)
    assert "nested deeper" not in str(inside.value)


def test_huge_files_are_refused_before_reading(tmp_path):
    sparse = tmp_path / "huge.yaml"
    with open(sparse, "wb") as fh:
        fh.truncate(3 * 10**9)  # a 3 GB file (sparse): never read
    assert "over the limit of 1,048,576" in str(bounded(lambda: load_sweep(sparse), seconds=2, megabytes=8))
    # a device that never ends is read only up to the limit
    assert "over the limit" in str(
        bounded(lambda: read_text_bounded("/dev/zero", "spec", 1 << 20, "X"), seconds=2, megabytes=8)
    )
    listing = tmp_path / "list.yaml"
    listing.write_text("inputs:\n  cathode_loading: [" + ", ".join(["3"] * 400_000) + "]\n")
    assert "over the limit" in str(bounded(lambda: load_sweep(listing), seconds=2, megabytes=8))


def test_pathological_specs_are_refused_before_building(monkeypatch):
    categories = {"inputs": {"cathode": ["NMC811"] * 10**6}}
    assert "1,000,000 values, over the limit of 100,000" in str(bounded(lambda: parse_sweep(categories)))
    linspace = {"inputs": {"cathode_loading": {"linspace": [1, 5, 10**9]}}}
    assert "1,000,000,000 values" in str(bounded(lambda: parse_sweep(linspace)))
    # 10^6 nodes of YAML (within the byte limit if raised) stop at the node limit: the work done is
    # that of a document at the limit, not ten times more (compared with one just under the limit,
    # so the check does not depend on how busy the machine is)
    monkeypatch.setenv("DSE_MAX_FILE_BYTES", str(10**8))

    def listing(n):
        return "inputs:\n  cathode_loading: [" + ", ".join(["3"] * n) + "]\n"

    text = listing(10**6)
    assert "more than 100,000 values" in str(bounded(lambda: loads(text), seconds=120))
    under = listing(90_000)
    t = time.perf_counter()
    loads(under)
    accepted = time.perf_counter() - t
    t = time.perf_counter()
    with pytest.raises(DseError):
        loads(text)
    refused = time.perf_counter() - t
    assert refused < 3 * accepted + 0.5, (refused, accepted)


def test_limits_are_configurable(monkeypatch):
    monkeypatch.setenv("DSE_MAX_AXIS_VALUES", "3")
    with pytest.raises(SpecError, match="4 values, over the limit of 3 per input \\(DSE_MAX_AXIS_VALUES\\)"):
        parse_sweep({"inputs": {"cathode_loading": [1, 2, 3, 4]}})
    monkeypatch.setenv("DSE_MAX_AXIS_VALUES", "many")
    with pytest.raises(SpecError, match="DSE_MAX_AXIS_VALUES: expected a positive integer"):
        parse_sweep({"inputs": {"cathode_loading": [1, 2]}})


BIG_SPEC = """\
name: too big
inputs:
  cathode_loading: {range: [1, 8]}
  stack_pressure: {range: [0, 5]}
sampler: {method: sobol, n: 2000000000}
"""


def test_sweep_over_the_limits_is_refused_before_any_work(tmp_path, cluster, capsys):
    spec = tmp_path / "big.yaml"
    spec.write_text(BIG_SPEC)
    out = tmp_path / "big.zarr"
    t = time.perf_counter()
    assert main(["sweep", str(spec), "-o", str(out), "--quiet"]) == 2
    assert time.perf_counter() - t < 30
    err = capsys.readouterr().err.strip()
    size = estimate_sweep(load_sweep(spec)).store_bytes
    assert err == (
        f"error: {spec}: the sweep has 2,000,000,000 designs (~{size / 1e9:.1f} GB uncompressed), over the "
        "limit of 100,000,000 designs (DSE_MAX_DESIGNS); rerun with --yes to proceed"
    )
    assert not out.exists() and not Path(str(out) + ".lock").exists()
    # a small sweep over a lowered limit runs with --yes
    small = tmp_path / "small.yaml"
    small.write_text("inputs:\n  cathode_loading: [2, 3, 4]\n  stack_pressure: [0, 1]\n")
    os.environ["DSE_MAX_DESIGNS"] = "5"
    try:
        assert main(["sweep", str(small), "-o", str(out), "--quiet", "--scheduler", cluster.scheduler_address]) == 2
        assert "6 designs (~" in capsys.readouterr().err and not out.exists()
        os.environ["DSE_MAX_DESIGNS"] = "100"
        os.environ["DSE_MAX_STORE_BYTES"] = "100"
        assert main(["sweep", str(small), "-o", str(out), "--quiet", "--scheduler", cluster.scheduler_address]) == 2
        assert "over the limit of 100 B (DSE_MAX_STORE_BYTES)" in capsys.readouterr().err
        assert (
            main(["sweep", str(small), "-o", str(out), "--quiet", "--yes", "--scheduler", cluster.scheduler_address])
            == 0
        )
    finally:
        os.environ.pop("DSE_MAX_DESIGNS", None)
        os.environ.pop("DSE_MAX_STORE_BYTES", None)
    assert out.exists()


# --------------------------------------------------------------------------- secrets
KEY, SECRET = "AKIADSETESTKEY000001", "dse-test-secret/0123456789abcdefXYZ"


@pytest.mark.slow
@pytest.mark.cluster
def test_no_credentials_in_store_logs_or_reports(tmp_path):
    """Sweep to S3 with distinctive credentials; scan every object and every output for them."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        import boto3

        endpoint = f"http://127.0.0.1:{port}"
        env = {**ENV, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "us-east-1"}
        s3 = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=KEY, aws_secret_access_key=SECRET
        )
        s3.create_bucket(Bucket="results")
        spec = tmp_path / "spec.yaml"
        spec.write_text(yaml.safe_dump({"inputs": {"cathode": ["NMC811", "LFP"], "stack_pressure": [0.0, 1.0]}}))
        url = "s3://results/run.zarr"
        outputs = []
        for args in (
            ["sweep", str(spec), "-o", url, "--workers", "1"],
            ["validate", url],
            ["pareto", url, "--csv", str(tmp_path / "front.csv")],
            ["report", url, "-o", str(tmp_path / "report.html")],
        ):
            proc = subprocess.run(
                [sys.executable, "-m", "dse.cli", *args, "--endpoint-url", endpoint],
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert proc.returncode == 0, proc.stderr
            outputs += [proc.stdout, proc.stderr]
        keys = [
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket="results")
            for o in page.get("Contents", [])
        ]
        assert any(k.endswith("zarr.json") for k in keys) and not any(k.endswith(".lock") for k in keys)
        blobs = [s3.get_object(Bucket="results", Key=k)["Body"].read() for k in keys]
        blobs += [o.encode() for o in outputs]
        blobs += [(tmp_path / "front.csv").read_bytes(), (tmp_path / "report.html").read_bytes()]
        for blob in blobs:
            assert KEY.encode() not in blob and SECRET.encode() not in blob
        # the scan works: the credentials are in the environment the commands ran with
        assert KEY in env.values()
    finally:
        server.stop()
