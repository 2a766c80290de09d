"""Fuzzing the parsers with hypothesis: malformed specs, designs, calibration CSVs and catalogs.

Every generated file goes through the public command line (``dse.cli.main``)
exactly as a user's would. Each example must end in success or in the
project's own one-line error (exit status 2, one ``error: ...`` line on
stderr): never a traceback, another exception, a hang (10 s alarm per
example) or a partial output file.

Targets are registered in :data:`TARGETS`; adding one is a strategy plus a
``run`` function. Catalog files (the STAC collection and its item) are
fuzzed in a copy of ``catalogs/`` whose store is linked, not copied. Runs are
derandomized, so CI sees the same examples every time. ``pytest -s`` prints
the number of examples and the distinct error kinds of each target.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dse.cli import main
from dse.literature import NUMERIC_COLUMNS, REQUIRED_COLUMNS, TEXT_COLUMNS
from dse.spec import DESIGN_META_KEYS, SWEEP_KEYS
from dse.testing import examples
from dse.vocabulary import INPUTS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_TIMEOUT = 10.0  # seconds per example: a hang fails the run instead of stalling CI


# --------------------------------------------------------------------------- the harness
@dataclass
class Outcome:
    """Results of one target: counts and the distinct error kinds seen."""

    examples: int = 0
    ok: int = 0
    kinds: Counter = field(default_factory=Counter)


OUTCOMES: dict[str, Outcome] = {}


def error_kind(line: str, path: Path) -> str:
    """'error: <file>: <key path>: <message>' → the message's first words, literals masked."""
    text = line.removeprefix("error: ").replace(str(path), "FILE")
    parts = text.split(": ")
    where = re.compile(r"FILE.*|[\w.\[\]\-]+(:row \d+(, column .+)?)?")
    while len(parts) > 1 and where.fullmatch(parts[0]):
        parts = parts[1:]
    message = ": ".join(parts)
    message = re.sub(r"'[^']*'|\"[^\"]*\"", "*", message)
    message = re.sub(r"column\(s\) [^:;(]+", "column(s) * ", message)
    message = re.sub(r"-?\d[\d,.]*(e[+-]?\d+)?", "N", message)
    return " ".join(message.split()[:4])


class Timeout(BaseException):  # not an Exception: the CLI's catch-all must not turn it into a line
    pass


@contextlib.contextmanager
def alarm(seconds: float):
    def fire(signum, frame):
        raise Timeout(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_cli(target: str, args: list[str], path: Path) -> int:
    """Run ``dse ARGS``; assert success or one ``error:`` line; record the outcome."""
    out, err = io.StringIO(), io.StringIO()
    with alarm(EXAMPLE_TIMEOUT), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    outcome = OUTCOMES.setdefault(target, Outcome())
    outcome.examples += 1
    lines = err.getvalue().strip().splitlines()
    if code == 0:
        outcome.ok += 1
        return code
    assert code == 2, (code, err.getvalue())
    assert len(lines) == 1 and lines[0].startswith("error: "), err.getvalue()
    assert "Traceback" not in err.getvalue()
    outcome.kinds[error_kind(lines[0], path)] += 1
    return code


FUZZ = dict(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)


# --------------------------------------------------------------------------- strategies
UNITS = [
    "um",
    "µm",
    "nm",
    "mm",
    "mAh/cm^2",
    "mAh/cm²",
    "MPa",
    "kPa",
    "bar",
    "degC",
    "°C",
    "K",
    "C",
    "g/Ah",
    "%",
    "kg",
    "m/s",
    "",
    "furlong",
    "1/0",
    "mAh/cm^2/s",
    "um**2",
    "e",
    "inf",
    "nan",
]
IDS = [
    "Li",
    "Na",
    "K",
    "Zn",
    "NMC811",
    "NMC622",
    "LFP",
    "NVP",
    "NaPW",
    "Cu",
    "Al",
    "Ag-C",
    "none",
    "Li-dual-salt",
    "Li-LPSCl",
    "Li-ether",
    "Na-diglyme",
    "stack",
    "pouch",
    "fill",
    "NMC812",
    "",
    " ",
    "../../etc/passwd",
]
numbers = st.one_of(
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 3, 8, 1e-9, 1e300, -1, 0.5, 2**63, 10**30]),
)
unit_strings = st.builds(
    lambda x, u: f"{x:g} {u}".strip(), st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from(UNITS)
)
junk_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
scalars = st.one_of(
    numbers,
    unit_strings,
    st.sampled_from(IDS),
    junk_text,
    st.booleans(),
    st.none(),
    st.dates(),
    st.sampled_from(["fill", "yes", "~", "null", "0x1f", "1_000", ".inf", "-.nan"]),
)


def values(depth: int = 2):
    """Scalars, lists and small mappings (what a spec value could be)."""
    if depth == 0:
        return scalars
    inner = values(depth - 1)
    return st.one_of(
        scalars,
        st.lists(inner, max_size=6),
        st.dictionaries(
            st.sampled_from(["linspace", "logspace", "range", "log", "method", "n", "seed", "x"]),
            st.one_of(inner, st.lists(scalars, min_size=0, max_size=4)),
            max_size=3,
        ),
    )


def mostly(good: st.SearchStrategy, bad: st.SearchStrategy, one_in: int = 10) -> st.SearchStrategy:
    """``good`` with an occasional ``bad`` (so that examples get past the first check)."""
    return st.integers(1, one_in).flatmap(lambda i: bad if i == 1 else good)


input_names = mostly(st.sampled_from(list(INPUTS)), st.one_of(junk_text, st.sampled_from(["cathod", "Metal", "1", ""])))
inputs_maps = st.dictionaries(input_names, values(), max_size=6)
samplers = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(["method", "n", "seed", "extra"]),
        st.one_of(st.sampled_from(["sobol", "latin_hypercube", "random", "saltelli", "sobl"]), numbers, scalars),
        max_size=4,
    ),
)
scenario = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.sampled_from(["li", "na", "k-1", "a b", "li"]), junk_text),
        "inputs": inputs_maps,
        "sampler": samplers,
        "overrides": values(1),
        "description": junk_text,
    },
)
sweep_specs = st.fixed_dictionaries(
    {},
    optional={
        "name": junk_text,
        "inputs": inputs_maps,
        "sampler": samplers,
        "scenarios": st.one_of(st.lists(scenario, max_size=3), scalars),
        "chunk_size": st.one_of(numbers, scalars),
        "uncertainty": st.one_of(st.booleans(), scalars),
        "outputs": st.one_of(
            st.lists(st.sampled_from(["cycle_life", "cost", "energy_density", "nope"]), max_size=3), scalars
        ),
        "overrides": values(1),
        "ce_coefficients": st.one_of(junk_text, st.sampled_from(["/etc/passwd", "/dev/zero"])),
    },
).flatmap(
    lambda d: st.dictionaries(st.one_of(st.sampled_from(SWEEP_KEYS), junk_text), values(1), max_size=2).map(
        lambda extra: {**extra, **d}
    )
)
designs = st.dictionaries(
    mostly(st.sampled_from([*INPUTS, *DESIGN_META_KEYS]), junk_text, 15),
    mostly(st.one_of(unit_strings, st.sampled_from(IDS), numbers), values(1), 3),
    max_size=10,
)


@st.composite
def mutated(draw, texts: list[str]) -> str:
    """A valid file's text with a few edits that YAML, CSV and the schemas must survive."""
    text = draw(st.sampled_from(texts))
    tokens = [
        "&a ",
        "*a",
        "*b",
        "!!python/object/apply:os.system ['true'] ",
        "!!binary ",
        "{",
        "}",
        "[",
        "]",
        ": ",
        "- ",
        "\t",
        "\x00",
        "\ufeff",
        "\\",
        "'",
        '"',
        "%YAML 1.1\n",
        "---\n",
        "...\n",
        "? ",
        "|\n",
        "<<: *a\n",
        ",",
        ";",
        "\r",
        "1e999",
        "-.inf",
        "\u202e",
        "#",
    ]
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "duplicate_line", "swap"]))
        if action == "insert":
            text = text[:pos] + draw(st.one_of(st.sampled_from(tokens), junk_text)) + text[pos:]
        elif action == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 40)) :]
        elif action == "replace":
            text = text[:pos] + draw(st.sampled_from(tokens)) + text[pos + 1 :]
        elif action == "duplicate_line":
            lines = text.splitlines(keepends=True) or [""]
            i = draw(st.integers(0, len(lines) - 1))
            text = "".join(lines[: i + 1] + [lines[i]] + lines[i + 1 :])
        else:
            lines = text.splitlines(keepends=True) or [""]
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "".join(lines)
    return text


def dump(data) -> str:
    try:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    except yaml.YAMLError:
        return repr(data)


SPEC_TEXTS = [
    (ROOT / "examples" / "demo_sweep.yaml").read_text(),
    "name: s\ninputs:\n  cathode: [NMC811, LFP]\n  cathode_loading: {linspace: [2 mAh/cm^2, 6 mAh/cm^2, 5]}\n",
    "scenarios:\n  - name: a\n    sampler: {method: sobol, n: 64}\n    inputs:\n"
    "      stack_pressure: {range: [0, 2]}\n      cathode: [NMC811, LFP]\n",
]
DESIGN_TEXTS = [p.read_text() for p in sorted((ROOT / "examples" / "seed001").glob("*.yaml"))] + [
    (ROOT / "examples" / "nmc811_dual_salt.yaml").read_text()
]
CSV_TEXT = "".join((ROOT / "dse" / "data" / "literature.csv").read_text().splitlines(keepends=True)[:12])

CSV_COLUMNS = [
    *REQUIRED_COLUMNS,
    "ce",
    "retention",
    "cycles",
    *NUMERIC_COLUMNS,
    *TEXT_COLUMNS,
    "flags",
    "row_id",
    "junk",
]
cells = st.one_of(
    st.sampled_from(
        [
            "",
            "Li",
            "Na",
            "ether",
            "carbonate",
            "99.5",
            "80",
            "100",
            "1e999",
            "nan",
            "-1",
            "full",
            "half",
            "Cu",
            "Ag",
            "unit_doubt;reservoir",
            ";;",
            ":x",
            "NMC811",
            "\x00",
            "a\nb",
            '"',
            "101",
        ]
    ),
    numbers.map(str),
    junk_text,
)


@st.composite
def csv_tables(draw) -> str:
    """Mostly well-formed headers (so that rows get parsed), cells of every kind."""
    header = [*REQUIRED_COLUMNS, *draw(st.sampled_from([("ce",), ("retention", "cycles"), ("ce", "cycles"), ()]))]
    header += draw(st.lists(st.sampled_from(CSV_COLUMNS), max_size=6))
    header = draw(st.permutations(header))
    if draw(st.integers(0, 9)) == 0:
        header = header[1:]
    numeric = st.one_of(st.floats(0, 100).map(lambda x: f"{x:.4g}"), st.sampled_from(["99.9", "80", "200", "1"]))
    row = st.lists(st.one_of(numeric, cells), min_size=max(0, len(header) - 2), max_size=len(header) + 1)
    rows = draw(st.lists(row, max_size=12))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


# --------------------------------------------------------------------------- targets
@dataclass(frozen=True)
class Target:
    """A parser under fuzz: a strategy of file texts and how to feed one to dse."""

    name: str
    strategy: st.SearchStrategy
    run: Callable[[str, Path], None]
    max_examples: int
    suffix: str = ".yaml"
    min_kinds: int = 3  # distinct error kinds expected (a target of one field class has fewer)


def run_sweep_spec(target: str, text: str, tmp: Path) -> None:
    """`dse sweep`, with limits of one design so that no sweep ever starts: parse, validate, estimate."""
    spec = tmp / "spec.yaml"
    out = tmp / "out.zarr"
    spec.write_text(text, encoding="utf-8", errors="surrogatepass")
    env = {"DSE_MAX_DESIGNS": "1", "DSE_MAX_STORE_BYTES": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        code = run_cli(target, ["sweep", str(spec), "-o", str(out), "--quiet"], spec)
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    assert code == 2, "every spec is refused here (malformed, or over the one-design limit)"
    assert not out.exists() and not Path(f"{out}.lock").exists(), "nothing written before the refusal"


def run_design(target: str, text: str, tmp: Path) -> None:
    design = tmp / "design.yaml"
    design.write_text(text, encoding="utf-8", errors="surrogatepass")
    run_cli(target, ["evaluate", str(design), "--json"], design)


def run_calibration(target: str, text: str, tmp: Path) -> None:
    table = tmp / "cells.csv"
    out = tmp / "coefficients.yaml"
    out.unlink(missing_ok=True)
    table.write_text(text, encoding="utf-8", errors="surrogatepass")
    code = run_cli(target, ["calibrate", str(table), "-o", str(out), "--folds", "2", "--no-residuals"], table)
    if code == 0:  # a complete, loadable coefficients file
        from dse.coefficients import load_coefficients

        load_coefficients(out)
    else:
        assert not out.exists(), "no partial coefficients file"
    assert not [p.name for p in tmp.iterdir() if p.name.startswith(".coefficients")], "no temporary file left"


CATALOGS = ROOT / "catalogs"
CATALOG_TEXT = (CATALOGS / "example.json").read_text()
ITEM_TEXT = (CATALOGS / "example" / "anode-free-small.json").read_text()
stac_keys = st.sampled_from(
    [
        "type",
        "id",
        "stac_version",
        "description",
        "links",
        "title",
        "extent",
        "license",
        "rel",
        "href",
        "assets",
        "properties",
        "zarr",
        "manifest",
        "file:checksum",
        "dse:spec",
        "stac_extensions",
        "collection",
        "geometry",
    ]
)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=False),
        junk_text,
        st.sampled_from(
            [
                "Collection",
                "Feature",
                "item",
                "./example/anode-free-small.json",
                "../../etc",
                "/etc/passwd",
                "s3://nowhere/x",
                "http://127.0.0.1:9/x",
                "anode-free-small",
            ]
        ),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(stac_keys, inner, max_size=5)),
    max_leaves=20,
)


@st.composite
def json_mutated(draw, text: str) -> str:
    """A valid JSON file with a few of its values replaced, removed or retyped (or, now and then, its text
    mangled), so that most examples reach the checks behind the JSON parser."""
    if draw(st.integers(0, 4)) == 0:
        return draw(mutated([text]))
    data = json.loads(text)
    for _ in range(draw(st.integers(1, 3))):
        node, key = None, None
        here = data
        while isinstance(here, dict | list) and here and draw(st.integers(0, 2)):
            keys = list(here) if isinstance(here, dict) else list(range(len(here)))
            node, key = here, draw(st.sampled_from(keys))
            here = here[key]
        if node is None:
            continue
        if draw(st.booleans()) and isinstance(node, dict):
            del node[key]
        else:
            node[key] = draw(json_values)
    return json.dumps(data, indent=1)


def catalog_dir(tmp: Path) -> Path:
    """A copy of ``catalogs/`` in ``tmp`` (the example store linked, not copied); made once per run."""
    root = tmp / "catalogs"
    if not root.exists():
        (root / "example").mkdir(parents=True)
        for f in (CATALOGS / "example").iterdir():
            (root / "example" / f.name).write_bytes(f.read_bytes())
        (root / "stores").symlink_to(CATALOGS / "stores", target_is_directory=True)
    (root / "example.json").write_text(CATALOG_TEXT)
    (root / "example" / "anode-free-small.json").write_text(ITEM_TEXT)
    return root


def run_catalog(target: str, text: str, tmp: Path) -> None:
    """A malformed collection file: `dse catalog list` and `dse catalog show` of the example entry."""
    root = catalog_dir(tmp)
    catalog = root / "example.json"
    catalog.write_text(text, encoding="utf-8", errors="surrogatepass")
    run_cli(target, ["catalog", "list", str(catalog)], catalog)
    run_cli(target, ["catalog", "show", str(catalog), "anode-free-small"], catalog)


def run_catalog_item(target: str, text: str, tmp: Path) -> None:
    """A malformed item file: `dse catalog verify` and `dse catalog open` of that entry."""
    root = catalog_dir(tmp)
    item = root / "example" / "anode-free-small.json"
    item.write_text(text, encoding="utf-8", errors="surrogatepass")
    catalog = root / "example.json"
    run_cli(target, ["catalog", "verify", str(catalog), "anode-free-small"], item)
    run_cli(target, ["catalog", "open", str(catalog), "anode-free-small"], item)
    assert (CATALOGS / "example" / "anode-free-small.json").read_text() == ITEM_TEXT, "the original is untouched"


# --------------------------------------------------------------------------- issue 22: the classes the fuzzers missed
OPTIONAL_ITEM_FIELDS = [
    ("properties", "title"),
    ("properties", "description"),
    ("properties", "created"),
    ("properties", "license"),
    ("properties", "sci:citation"),
    ("properties", "sci:doi"),
    ("properties", "dse:version"),
    ("properties", "dse:n_designs"),
    ("properties", "dse:objectives"),
    ("properties", "dse:scenarios"),
    ("properties", "dse:spec"),
    ("properties", "dse:git_commit"),
    ("assets", "zarr", "dse:bytes"),
    ("assets", "zarr", "dse:objects"),
]
special_numbers = st.sampled_from([float("inf"), float("-inf"), float("nan"), 10**30, 2**64, -1, 0, 0.5, 1e308, True])


@st.composite
def optional_item_fields(draw) -> str:
    """The example item with one to three optional fields replaced (or removed)."""
    data = json.loads(ITEM_TEXT)
    for _ in range(draw(st.integers(1, 3))):
        *parents, key = draw(st.sampled_from(OPTIONAL_ITEM_FIELDS))
        node = data
        for part in parents:
            node = node[part]
        if draw(st.integers(0, 5)) == 0:
            node.pop(key, None)
        else:
            node[key] = draw(st.one_of(json_values, special_numbers, st.just("[/x] [bold]" + "y" * 5000)))
    return json.dumps(data, indent=1)


def run_catalog_item_fields(target: str, text: str, tmp: Path) -> None:
    """An item with malformed optional fields: `dse catalog list` and `show` (they print every field)."""
    root = catalog_dir(tmp)
    item = root / "example" / "anode-free-small.json"
    item.write_text(text, encoding="utf-8", errors="surrogatepass")
    catalog = root / "example.json"
    run_cli(target, ["catalog", "list", str(catalog)], item)
    run_cli(target, ["catalog", "show", str(catalog), "anode-free-small"], item)


COUNT_SPEC = (
    "name: counts\nchunk_size: {chunk}\nscenarios:\n  - name: a\n    inputs:\n"
    "      cathode_loading: {{linspace: [2 mAh/cm^2, {stop}, {num}]}}\n"
    "  - name: b\n    sampler: {{method: {method}, n: {n}, seed: {seed}}}\n    inputs:\n"
    "      stack_pressure: {{range: [0, 2]}}\n"
)
yaml_counts = st.sampled_from(
    [
        ".inf",
        "-.inf",
        ".nan",
        ".NaN",
        "1e999",
        "4e0",
        "1e3",
        "0",
        "-1",
        "2.5",
        "3",
        "64",
        "10000000000000000000000000",
        "18446744073709551616",
        "4294967296",
        "4294967295",
        "true",
        "'5'",
        "[]",
        "~",
    ]
)
count_specs = st.builds(
    lambda chunk, stop, num, method, n, seed: COUNT_SPEC.format(
        chunk=chunk, stop=stop, num=num, method=method, n=n, seed=seed
    ),
    yaml_counts,
    st.sampled_from(["2 mAh/cm^2", "6 mAh/cm^2", "1e1 mAh/cm^2", "mAh/cm^2", "6"]),
    yaml_counts,
    st.sampled_from(["sobol", "latin_hypercube", "random", "saltelli"]),
    yaml_counts,
    yaml_counts,
)

c_rates = st.one_of(
    st.sampled_from(
        [
            "C/0",
            "eC",
            "C/",
            "/5",
            "C",
            "CC",
            "C/-0",
            "C/1e-400",
            "1e999C",
            "-1C",
            "0C",
            "C/.inf",
            "C/nan",
            "nanC",
            "C/5/2",
            "2C/5",
            "C*5",
            "0.5 C",
            "C / 5",
            "5e-1C",
            "1/h",
            "2 1/h",
            "1 A/Ah",
        ]
    ),
    st.builds(
        lambda x, form: form.format(x=x),
        st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**40), 10**40)),
        st.sampled_from(["{x}C", "C/{x}", "{x} C", "C/ {x}"]),
    ),
)
unit_values = st.one_of(
    st.sampled_from(
        [
            "25 delta_degC",
            "25 degC",
            "300 K",
            "MPa",
            "kPa",
            "mAh/cm^2",
            "degC",
            "% ",
            "1 MPa MPa",
            "1e999 MPa",
            "-.inf MPa",
            "4e0",
            "4E0",
            "1e-3 MPa",
            "0x10 MPa",
            "1_000 kPa",
            "25 °C",
            "25 delta_degF",
        ]
    ),
    st.builds(
        lambda x, u: f"{x} {u}",
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from(["delta_degC", "degC", "MPa", "K", "um", ""]),
    ),
)
markup_names = st.one_of(
    st.sampled_from(
        [
            "[/x]",
            "[bold]",
            "[/]",
            "[link=file:///etc/passwd]x[/link]",
            "[red",
            "]",
            "\\[x]",
            ":smile:",
            "[" * 50,
            "x" * 20_000,
            "[b]" * 2000,
        ]
    ),
    st.text(alphabet="[]/bold=x:\\ ", max_size=40),
)


@st.composite
def unit_designs(draw) -> str:
    """The example design with C-rates, temperatures, pressures and its name drawn from the hard cases."""
    data = yaml.safe_load(DESIGN_TEXTS[-1])
    data["charge_rate"] = draw(c_rates)
    if draw(st.booleans()):
        data["discharge_rate"] = draw(c_rates)
    data[draw(st.sampled_from(["temperature", "stack_pressure", "cathode_loading"]))] = draw(unit_values)
    data["name"] = draw(markup_names)
    return dump(data)


def run_design_table(target: str, text: str, tmp: Path) -> None:
    """`dse evaluate` printing its table (the name as a title), then as JSON."""
    design = tmp / "design.yaml"
    design.write_text(text, encoding="utf-8", errors="surrogatepass")
    run_cli(target, ["evaluate", str(design)], design)
    run_cli(target, ["evaluate", str(design), "--json"], design)


path_arguments = st.one_of(
    st.sampled_from(
        [
            "/nonexistent/x.csv",
            "/proc/x.csv",
            "/dev/null/x.csv",
            "/",
            "DIR/..",
            "FILE/x.csv",
            "FILE",
            "DIR",
            "DIR/" + "x" * 300 + ".csv",
            "DIR/" + "y" * 300 + "/z.csv",
            "/etc",
            "DIR/-",
            "DIR/.",
            "/sys/kernel/x.csv",
            "DIR/ok.csv",
            "DIR/ok.png",
            "/dev/null",
        ]
    ),
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"),
        min_size=1,
        max_size=20,
    ).map(lambda t: "DIR/" + t),
)


def run_path_arguments(target: str, text: str, tmp: Path) -> None:
    """Output paths of `dse evaluate --curve` and `dse sweep -o` (`--csv`, `--parquet` and the others share
    the check; tests/cli/test_one_line_errors.py runs each)."""
    work = tmp / "paths"
    shutil.rmtree(work, ignore_errors=True)
    (work / "DIR").mkdir(parents=True)
    (work / "FILE").write_text("x")
    path = text.replace("DIR", str(work / "DIR")).replace("FILE", str(work / "FILE"))
    design = str(ROOT / "examples" / "nmc811_dual_salt.yaml")
    run_cli(target, ["evaluate", design, "--curve", path if path.endswith(".png") else path + ".png"], work)
    spec = work / "spec.yaml"
    spec.write_text("name: p\ninputs:\n  cathode_loading: [3, 4]\n")
    os.environ["DSE_MAX_DESIGNS"] = "1"  # a good path gets as far as the limit: never a sweep
    try:
        run_cli(target, ["sweep", str(spec), "-o", path + ".zarr", "--quiet"], work)
    finally:
        os.environ.pop("DSE_MAX_DESIGNS", None)
    assert not list(work.rglob("*.zarr*")), "nothing written before the refusal"


CELLS = ROOT / "examples" / "cells"
SIDECAR_TEXTS = [
    (CELLS / "cells.yaml").read_text(),
    (CELLS / "A01.yaml").read_text() + (CELLS / "cells.yaml").read_text(),
]


def run_cell_sidecar(target: str, text: str, tmp: Path) -> None:
    """A measured cell's sidecar (``dse calibrate --cells``, ``dse serve --cells``): read in process by
    ``dse.cells.load_cells``, which a fit would follow (seconds per example, so not run here). Either cells
    come back or a :class:`~dse.errors.DseError` of one line naming the file."""
    from dse.cells import load_cells
    from dse.errors import DseError

    folder = tmp / "cells"
    if not folder.exists():
        shutil.copytree(CELLS, folder)
    sidecar = folder / "A01.yaml"
    sidecar.write_text(text, encoding="utf-8", errors="surrogatepass")
    outcome = OUTCOMES.setdefault(target, Outcome())
    outcome.examples += 1
    try:
        with alarm(EXAMPLE_TIMEOUT):
            cells, _ = load_cells(folder)
    except DseError as exc:
        line = str(exc)
        assert "\n" not in line and "A01.yaml" in line, line
        outcome.kinds[error_kind("error: " + line, sidecar)] += 1
        return
    assert cells, "a folder of four cells read as none"
    outcome.ok += 1


TARGETS = [
    Target("sweep spec (generated)", sweep_specs.map(dump), run_sweep_spec, 260),
    Target("sweep spec (mutated)", mutated(SPEC_TEXTS), run_sweep_spec, 240),
    Target("design file (generated)", designs.map(dump), run_design, 180),
    Target("design file (mutated)", mutated(DESIGN_TEXTS), run_design, 150),
    Target("calibration CSV (generated)", csv_tables(), run_calibration, 160, ".csv"),
    Target("calibration CSV (mutated)", mutated([CSV_TEXT]), run_calibration, 80, ".csv"),
    Target("catalog file (mutated)", json_mutated(CATALOG_TEXT), run_catalog, 150, ".json"),
    Target("catalog item (mutated)", json_mutated(ITEM_TEXT), run_catalog_item, 150, ".json"),
    Target("catalog item optional fields", optional_item_fields(), run_catalog_item_fields, 60, ".json", 1),
    Target("sweep counts (.inf, .nan, huge)", count_specs, run_sweep_spec, 80),
    Target("design C-rates, units and markup names", unit_designs(), run_design_table, 60),
    Target("output path arguments", path_arguments, run_path_arguments, 30, ""),
    Target("cell sidecar (mutated)", mutated(SIDECAR_TEXTS), run_cell_sidecar, 120),
]
MIN_TOTAL = 1000
#: the counts of every fuzz run, printed at the end of the test run (tests/conftest.py)
FUZZ_REPORT = ROOT / "tests" / "artifacts" / "fuzz-counts.txt"


def report(line: str) -> None:
    FUZZ_REPORT.parent.mkdir(exist_ok=True)
    with open(FUZZ_REPORT, "a") as fh:
        fh.write(line + "\n")


# test_fuzz_totals adds up what every target of this file found: one worker runs them all
pytestmark = pytest.mark.xdist_group("test_fuzz.py")


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    """The first use of the model chain loads numba's compiled functions (seconds on a busy machine).

    Paid once here, before any example runs under the per-example alarm, so that the
    alarm measures the parsers, not the first import.
    """
    tmp = tmp_path_factory.mktemp("warm")
    with alarm(600):  # (a first use, not an example: only a hang fails it)
        run_calibration("warm-up", CSV_TEXT, tmp)
    OUTCOMES.pop("warm-up", None)


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_parser_never_crashes(target: Target, tmp_path, warm):
    OUTCOMES.pop(target.name, None)

    @settings(max_examples=target.max_examples, **FUZZ)
    @given(text=target.strategy)
    def one(text: str) -> None:
        target.run(target.name, text, tmp_path)

    t = time.perf_counter()
    one()
    outcome = OUTCOMES[target.name]
    print(
        f"\n{target.name}: {outcome.examples} examples ({outcome.ok} accepted) in {time.perf_counter() - t:.1f} s; "
        f"{len(outcome.kinds)} error kinds:"
    )
    for kind, n in outcome.kinds.most_common():
        print(f"  {n:5d}  {kind}")
    report(f"{target.name}: {outcome.examples} examples, {outcome.ok} accepted, {len(outcome.kinds)} error kinds")
    assert outcome.examples >= 0.9 * target.max_examples
    assert len(outcome.kinds) >= target.min_kinds, outcome.kinds


def test_fuzz_totals():
    """At least 1,000 examples over all targets, ending in many distinct errors (needs the whole file)."""
    expected = {t.name for t in TARGETS}
    if set(OUTCOMES) != expected:
        pytest.skip(
            f"runs after every target of this file (missing {sorted(expected - set(OUTCOMES))}, "
            f"extra {sorted(set(OUTCOMES) - expected)})"
        )
    total = sum(o.examples for o in OUTCOMES.values())
    kinds = set().union(*(o.kinds for o in OUTCOMES.values()))
    line = (
        f"fuzz total: {total} examples, {sum(o.ok for o in OUTCOMES.values())} accepted, "
        f"{len(kinds)} distinct error kinds"
    )
    print("\n" + line)
    report(line)
    assert total >= MIN_TOTAL
    assert len(kinds) >= 20


def test_error_kind_masks_paths_and_literals(tmp_path):
    f = tmp_path / "s.yaml"
    assert (
        error_kind(f"error: {f}: inputs.cathode[0]: unknown cathode 'X'; did you mean 'Y'?", f)
        == "unknown cathode *; did"
    )
    assert error_kind(f"error: {f}: malformed YAML at line 3, column 7: found x", f) == "malformed YAML at line"
    assert error_kind("error: cells.csv:row 2, column ce: 'x' is not a number [%]", f) == "* is not a"


# --------------------------------------------------------------------------- store corruption
CORRUPTIONS = ["flip", "truncate", "delete", "directory", "symlink"]
CORRUPTION_EXAMPLES = examples(25)  # each runs `dse pareto` and `dse validate --full`


def chunk_files(store: Path) -> list[Path]:
    """Every chunk file of every array of a store (coordinates and completion records included)."""
    out = []
    for meta in sorted(store.rglob("zarr.json")):
        if json.loads(meta.read_text()).get("node_type") != "array":
            continue
        c = meta.parent / "c"
        out += [c] if c.is_file() else sorted(p for p in c.rglob("*") if p.is_file())
    return out


@st.composite
def corruptions(draw, n_files: int):
    """(file index, kind, detail): flips as (offset fraction, xor mask) pairs, a truncation as a length fraction,
    a symlink as the index of the chunk it points at."""
    kind = draw(st.sampled_from(CORRUPTIONS))
    index = draw(st.integers(0, n_files - 1))
    if kind == "flip":
        detail = draw(
            st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=8)
        )
    elif kind == "truncate":
        detail = draw(st.floats(0, 1, exclude_max=True))
    elif kind == "symlink":
        detail = draw(st.integers(0, n_files - 1))
    else:
        detail = None
    return index, kind, detail


def corrupt(chunk: Path, kind: str, detail, files: list[Path]) -> None:
    data = chunk.read_bytes()
    if kind == "flip":
        buf = bytearray(data)
        for fraction, mask in detail:
            buf[int(fraction * len(buf))] ^= mask
        chunk.write_bytes(bytes(buf))
    elif kind == "truncate":
        chunk.write_bytes(data[: int(detail * len(data))])
    else:
        chunk.unlink()
        if kind == "directory":
            chunk.mkdir()
        elif kind == "symlink":
            chunk.symlink_to(files[detail] if files[detail] != chunk else chunk.parent)


def restore(chunk: Path, data: bytes) -> None:
    if chunk.is_symlink() or chunk.is_file():
        chunk.unlink()
    elif chunk.is_dir():
        chunk.rmdir()
    chunk.write_bytes(data)


@pytest.mark.slow
@pytest.mark.cluster
def test_store_corruption_never_answers_wrong(small_store, tmp_path):
    """Random damage to random chunks of random arrays: `dse pareto` names the chunk in one line, or answers
    exactly what it answers on the undamaged store; never other numbers."""
    import shutil

    store = tmp_path / "store.zarr"
    shutil.copytree(small_store, store)
    files = chunk_files(store)
    reference = tmp_path / "reference.csv"
    out = tmp_path / "front.csv"

    def dse(*args: str) -> tuple[int, str]:
        err = io.StringIO()
        with alarm(EXAMPLE_TIMEOUT), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(list(args))
        return code, err.getvalue()

    def pareto(csv_path: Path) -> tuple[int, str]:
        return dse("pareto", str(store), "--no-store", "--csv", str(csv_path))

    assert pareto(reference)[0] == 0
    seen = Counter()
    cost = files.index(next(f for f in files if f.relative_to(store).as_posix().startswith("li/cost/c/")))

    @settings(max_examples=CORRUPTION_EXAMPLES, **FUZZ)
    @given(damage=corruptions(len(files)))
    @example(damage=(cost, "flip", [(0.5, 1)]))
    @example(damage=(cost, "truncate", 0.99))
    @example(damage=(cost, "delete", None))
    @example(damage=(cost, "directory", None))
    @example(damage=(cost, "symlink", cost + 1))
    def one(damage) -> None:
        index, kind, detail = damage
        chunk = files[index]
        original = chunk.read_bytes()
        out.unlink(missing_ok=True)
        corrupt(chunk, kind, detail, files)
        changed = not (chunk.is_file() and not chunk.is_symlink() and chunk.read_bytes() == original)
        rel = chunk.relative_to(store).as_posix()
        scenario, _, key = rel.partition("/")
        try:
            code, err = pareto(out)
            if changed:  # every chunk is read here: any change is named
                full, report = dse("validate", str(store), "--full")
                assert full == 1 and f"chunk {key} of scenario '{scenario}' is damaged" in report, (kind, rel, report)
        finally:
            restore(chunk, original)
        if code == 0:
            assert out.read_bytes() == reference.read_bytes(), (kind, rel, "a damaged store answered other numbers")
            seen["same answer"] += 1
            return
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (kind, rel, err)
        assert f"chunk {key} of scenario '{scenario}' is damaged" in lines[0], (kind, rel, lines[0])
        assert not out.exists(), "no front written from a damaged store"
        seen[kind] += 1

    one()
    line = f"store corruption: {sum(seen.values())} examples: {dict(seen)}"
    print("\n" + line)
    report(line)
    assert sum(seen.values()) >= 0.9 * CORRUPTION_EXAMPLES
    assert set(CORRUPTIONS) <= set(seen), "each kind of damage refused at least once"
    assert dse("validate", str(store), "--full")[0] == 0, "every chunk restored"
