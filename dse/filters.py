"""Safe filter expressions over results: ``cathode == 'NMC811' and stack_pressure <= 1``.

The expression is parsed with :func:`ast.parse` and compiled from a whitelist
of nodes; nothing is ever passed to ``eval``. The grammar (docs/pareto.md):

- comparisons ``== != < <= > >=``, chained (``1 <= stack_pressure < 5``);
- ``in`` / ``not in`` a list or tuple of constants;
- ``and``, ``or``, ``not`` and parentheses;
- ``+ - * /`` on numbers (``cost / cycle_life < 0.1``);
- names of variables or coordinates, numbers (signed), strings, True/False.

Calls, attributes, subscripts, lambdas, comprehensions, ``**`` and every
other node are refused with "unsupported expression" before anything runs.

Text names (categorical inputs) allow only ``==``, ``!=``, ``in`` and ``not in``
with strings. On a grid Dataset names may be dimension coordinates: xarray
broadcasts them against each other and the data; Dask-backed data stay lazy.

>>> import xarray as xr
>>> ds = xr.Dataset(coords={"cathode": ["LFP", "NMC811"], "stack_pressure": [0.0, 1.0, 5.0]})
>>> where_mask(ds, "cathode == 'NMC811' and stack_pressure <= 1").values.tolist()
[[False, False, False], [True, True, False]]
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import reduce
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr

from dse.errors import SpecError, suggest
from dse.vocabulary import INPUTS

__all__ = ["Condition", "parse_where", "where_mask", "MAX_LENGTH"]

#: longest expression accepted [characters]
MAX_LENGTH = 10_000
#: deepest nesting of the expression's syntax tree (``not not ... x``, parentheses)
MAX_DEPTH = 100
COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
EQUALITY = (ast.Eq, ast.NotEq, ast.In, ast.NotIn)
#: arithmetic on numbers; no ** (9**9**9 would hang), no // or % (integer semantics)
ARITHMETIC = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.true_divide}
ALLOWED = "comparisons, and/or/not, + - * /, names, numbers, strings and lists of constants"

Evaluator = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Condition:
    """A compiled filter expression: call it with a mapping of arrays.

    Attributes
    ----------
    expr : str
        The source text.
    names : tuple of str
        Names the expression reads.
    literals : tuple
        ``(name, text, column)`` for every string compared with a name.
    """

    expr: str
    names: tuple[str, ...]
    literals: tuple[tuple[str, str, int], ...]
    evaluate: Evaluator

    def __call__(self, data: Mapping[str, Any]) -> Any:
        """The expression's value on ``data`` (the same as :meth:`evaluate`)."""
        return self.evaluate(data)


@dataclass
class _Context:
    expr: str
    names: Collection[str]
    kinds: Mapping[str, str]
    used: list[str]
    literals: list[tuple[str, str, int]]

    def fail(self, message: str, node: ast.AST, hint: str = "") -> SpecError:
        return SpecError(f"{message} at {_position(self.expr, node)}{hint}", where=f"where {self.expr!r}")


def _column(expr: str, node: ast.AST) -> int:
    """1-based character column of a node (ast offsets count UTF-8 bytes)."""
    lines = expr.splitlines() or [""]
    line = lines[getattr(node, "lineno", 1) - 1]
    return len(line.encode()[: getattr(node, "col_offset", 0)].decode(errors="ignore")) + 1


def _position(expr: str, node: ast.AST) -> str:
    """'column c', or 'line l, column c' in multi-line text."""
    lineno = getattr(node, "lineno", 1)
    col = _column(expr, node)
    return f"column {col}" if lineno == 1 else f"line {lineno}, column {col}"


def _kind(dtype: Any) -> str:
    """'bool', 'text' or 'number' for a dtype (None when unknown: anything goes)."""
    kind = np.dtype(dtype).kind
    return "bool" if kind == "b" else "text" if kind in "OUST" else "number"


def _not(x: Any) -> Any:
    return (not x) if isinstance(x, bool | np.bool_) else ~x


def _isin(x: Any, values: list[Any]) -> Any:
    if hasattr(x, "isin"):
        return x.isin(values)
    if isinstance(x, da.Array):
        return da.isin(x, values)
    if np.ndim(x) == 0 and not isinstance(x, np.ndarray):
        return x in values
    return np.isin(x, values)


def _and(a: Any, b: Any) -> Any:
    return (a and b) if isinstance(a, bool) and isinstance(b, bool) else a & b


def _or(a: Any, b: Any) -> Any:
    return (a or b) if isinstance(a, bool) and isinstance(b, bool) else a | b


def _constant(node: ast.AST) -> tuple[bool, Any]:
    """(True, value) for a number, string or bool literal, allowing a sign on numbers.

    Integers are taken as floats, so that a literal never overflows the
    integer type of a variable (``infeasible_reason + 70000``, a uint16).
    """
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return True, float(node.value)  # _check_tree refused those too large for a float
    if isinstance(node, ast.Constant) and type(node.value) in (float, str, bool):
        return True, node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        ok, value = _constant(node.operand)
        if ok and type(value) in (int, float):
            return True, -value if isinstance(node.op, ast.USub) else value
    return False, None


def _operand(node: ast.AST, ctx: _Context) -> tuple[Evaluator, str | None, Any]:
    """An evaluator, its kind ('bool', 'text', 'number' or None) and the literal, if constant."""
    ok, value = _constant(node)
    if ok:
        kind = "bool" if isinstance(value, bool) else "text" if isinstance(value, str) else "number"
        return (lambda data, v=value: v), kind, value
    if isinstance(node, ast.Name):
        if node.id not in ctx.names:
            raise ctx.fail(f"{node.id!r} names no input or output", node, suggest(node.id, ctx.names))
        ctx.used.append(node.id)
        return (lambda data, n=node.id: data[n]), ctx.kinds.get(node.id), None
    if isinstance(node, ast.BinOp) and type(node.op) in ARITHMETIC:
        return _arithmetic(node, ctx), "number", None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner, kind, _ = _operand(node.operand, ctx)
        _check_number(kind, node.operand, ctx)
        negate = isinstance(node.op, ast.USub)
        return (lambda data: np.negative(inner(data)) if negate else inner(data)), "number", None
    raise _unsupported(node, ctx)


def _check_number(kind: str | None, node: ast.AST, ctx: _Context) -> None:
    if kind not in ("number", None):
        raise ctx.fail(f"arithmetic needs numbers, not {ast.unparse(node)!r}", node)


def _arithmetic(node: ast.BinOp, ctx: _Context) -> Evaluator:
    """``a + b``, ``a - b``, ``a * b``, ``a / b`` on numbers (x / 0 is inf or nan, never an error)."""
    left, lkind, _ = _operand(node.left, ctx)
    right, rkind, _ = _operand(node.right, ctx)
    _check_number(lkind, node.left, ctx)
    _check_number(rkind, node.right, ctx)
    op = ARITHMETIC[type(node.op)]

    def evaluate(data: Mapping[str, Any]) -> Any:
        a, b = left(data), right(data)
        a = np.float64(a) if isinstance(a, int | float) else a
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return op(a, b)

    return evaluate


def _unsupported(node: ast.AST, ctx: _Context) -> SpecError:
    return ctx.fail(f"unsupported expression {ast.unparse(node)!r} (allowed: {ALLOWED})", node)


def _members(node: ast.AST, ctx: _Context) -> tuple[list[Any], set[str]]:
    """The constants of the list after ``in`` and their kinds."""
    if not isinstance(node, ast.List | ast.Tuple | ast.Set):
        raise ctx.fail(f"'in' needs a list of constants, not {ast.unparse(node)!r}", node)
    values, kinds = [], set()
    for elt in node.elts:
        ok, value = _constant(elt)
        if not ok:
            raise _unsupported(elt, ctx)
        values.append(value)
        kinds.add("text" if isinstance(value, str) else "number")
    return values, kinds


def _check_types(kinds: set[str | None], op: ast.cmpop, node: ast.AST, ctx: _Context) -> None:
    """Reject text compared with numbers, and ordering of text."""
    known = kinds - {None}
    if "text" not in known:
        return
    if not isinstance(op, EQUALITY):
        raise ctx.fail("text compares only with ==, !=, in and not in", node)
    if known != {"text"}:
        raise ctx.fail(f"compares text with a number in {ast.unparse(node)!r}", node)


def _record(name: ast.AST, constants: list[ast.AST], ctx: _Context) -> None:
    """Remember the strings compared with a name, for the typo check of :func:`where_mask`."""
    if isinstance(name, ast.Name):
        for node in constants:
            ok, value = _constant(node)
            if ok and isinstance(value, str):
                ctx.literals.append((name.id, value, _column(ctx.expr, node)))


def _compare(node: ast.Compare, ctx: _Context) -> Evaluator:
    operands = [node.left, *node.comparators]
    steps = []
    for op, a, b in zip(node.ops, operands, operands[1:], strict=False):
        f, kind, _ = _operand(a, ctx)
        if isinstance(op, ast.In | ast.NotIn):
            values, kinds = _members(b, ctx)
            _check_types({kind} | kinds, op, node, ctx)
            _record(a, list(b.elts), ctx)
            negate = isinstance(op, ast.NotIn)
            steps.append(lambda d, f=f, v=values, neg=negate: _not(_isin(f(d), v)) if neg else _isin(f(d), v))
            continue
        g, other, _ = _operand(b, ctx)
        _check_types({kind, other}, op, node, ctx)
        _record(a, [b], ctx)
        _record(b, [a], ctx)
        compare = COMPARE[type(op)]
        steps.append(lambda d, f=f, g=g, o=compare: o(f(d), g(d)))
    return lambda data: reduce(_and, (step(data) for step in steps))


def _condition(node: ast.AST, ctx: _Context) -> Evaluator:
    """An evaluator of a boolean node."""
    if isinstance(node, ast.BoolOp):
        parts = [_condition(v, ctx) for v in node.values]
        combine = _and if isinstance(node.op, ast.And) else _or
        return lambda data: reduce(combine, (p(data) for p in parts))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _condition(node.operand, ctx)
        return lambda data: _not(inner(data))
    if isinstance(node, ast.Compare):
        return _compare(node, ctx)
    if isinstance(node, ast.Name | ast.Constant | ast.UnaryOp | ast.BinOp):
        fn, kind, _ = _operand(node, ctx)
        if kind not in ("bool", None):
            raise ctx.fail(f"{ast.unparse(node)!r} is not a condition (compare it with a value)", node)
        return fn
    raise _unsupported(node, ctx)


def _syntax_position(expr: str, exc: SyntaxError) -> str:
    """Where a syntax error is; Python reports offset 0 when the input ends too early."""
    lines = expr.strip().splitlines() or [""]
    lineno = min(max(exc.lineno or 1, 1), len(lines))
    prefix = f"line {lineno}, " if lineno > 1 else ""
    if not exc.offset or exc.offset < 1:
        return f"{prefix}column {len(lines[lineno - 1]) + 1} (end of input)"
    return f"{prefix}column {exc.offset}"


def _parse(expr: str) -> ast.Expression:
    where = f"where {expr!r}"
    if not isinstance(expr, str) or not expr.strip():
        raise SpecError("is empty", where=where)
    if len(expr) > MAX_LENGTH:
        raise SpecError(f"is longer than {MAX_LENGTH} characters", where=where)
    try:
        return ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        raise SpecError(f"does not parse: {exc.msg} at {_syntax_position(expr, exc)}", where=where) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise SpecError(f"does not parse: {exc}", where=where) from None


def _check_tree(tree: ast.AST, expr: str) -> None:
    """Refuse a syntax tree deeper than :data:`MAX_DEPTH`, and integers too large for a float.

    The tree is walked without recursion.
    """
    stack = [(tree, 0)]
    text = expr.strip()
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SpecError(
                f"is nested more than {MAX_DEPTH} levels deep at {_position(text, node)}",
                where=f"where {_short(expr)!r}",
            )
        if isinstance(node, ast.Constant) and type(node.value) is int and abs(node.value) > 1.7e308:
            raise SpecError(
                f"the number at {_position(text, node)} is too large (at most ~1.7e308)",
                where=f"where {_short(expr)!r}",
            )
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _short(expr: str, limit: int = 200) -> str:
    """The expression as quoted in a message: at most ``limit`` characters."""
    return expr if len(expr) <= limit else expr[: limit - 1] + "…"


def parse_where(expr: str, names: Collection[str], dtypes: Mapping[str, Any] | None = None) -> Condition:
    """Compile a filter expression into a callable on a mapping of arrays.

    Parameters
    ----------
    expr : str
        The expression, e.g. ``"cathode == 'NMC811' and stack_pressure <= 1"``.
    names : collection of str
        Names the expression may read.
    dtypes : mapping, optional
        ``{name: dtype}``; enables the checks on text and boolean names.

    Returns
    -------
    Condition
        Call it with ``{name: array}`` (numpy, Dask or xarray).

    Raises
    ------
    SpecError
        Syntax errors ("does not parse: ... at column c"), unknown names
        ("names no input", with a suggestion) and nodes outside the grammar
        ("unsupported expression ...").

    Examples
    --------
    >>> cond = parse_where("1 <= stack_pressure < 5 and cathode in ('LFP', 'NMC811')", ["stack_pressure", "cathode"])
    >>> cond({"stack_pressure": np.array([0.0, 2.0, 3.0]), "cathode": np.array(["LFP", "LFP", "NCA"])})
    array([False,  True, False])
    >>> parse_where("__import__('os')", ["cathode"])
    Traceback (most recent call last):
    ...
    dse.errors.SpecError: where "__import__('os')": unsupported expression "__import__('os')" (allowed: comparisons, and/or/not, + - * /, names, numbers, strings and lists of constants) at column 1
    """
    tree = _parse(expr)
    _check_tree(tree, expr)
    kinds = {n: _kind(t) for n, t in (dtypes or {}).items()}
    ctx = _Context(expr.strip(), names, kinds, [], [])
    fn = _condition(tree.body, ctx)
    return Condition(expr, tuple(dict.fromkeys(ctx.used)), tuple(ctx.literals), fn)


def _check_literals(ds: xr.Dataset, cond: Condition) -> None:
    """A string that is neither a coordinate value nor a catalogue id is a typo."""
    for name, text, col in cond.literals:
        known: list[str] = []
        if name in ds.indexes:
            known += [str(v) for v in ds.indexes[name]]
        kind = INPUTS[name].catalogue if name in INPUTS else None
        if kind is not None:
            from dse.materials.catalogue import load_catalogue

            known += load_catalogue().ids(kind)
        if known and text not in known:
            raise SpecError(
                f"no {name} is {text!r} at column {col}" + suggest(text, dict.fromkeys(known)),
                where=f"where {cond.expr!r}",
            )


def _decoded(ds: xr.Dataset) -> xr.Dataset:
    """Categorical sample variables stored as codes (``dse_categories``) as their ids."""
    coded = [v for v in ds.data_vars if ds[v].attrs.get("dse_categories")]
    if not coded:
        return ds
    out = ds.copy()
    for v in coded:
        table = np.asarray(list(ds[v].attrs["dse_categories"]), dtype=object)
        data = ds[v].data
        if hasattr(data, "map_blocks"):
            decoded = data.map_blocks(lambda c, t=table: t[np.asarray(c, dtype=np.int64)], dtype=object)
        else:
            decoded = table[np.asarray(data, dtype=np.int64)]
        out[v] = ds[v].copy(data=decoded)
    return out


def where_mask(ds: xr.Dataset, expr: str) -> xr.DataArray:
    """Boolean DataArray of the designs of ``ds`` that satisfy ``expr``.

    Parameters
    ----------
    ds : xarray.Dataset
        Grid or sampled results; names are its variables and coordinates.
    expr : str
        Filter expression (module docstring).

    Returns
    -------
    xarray.DataArray
        ``where``, bool, over the dimensions of the names used (lazy when
        they are Dask-backed); a 0-d array when no name is used.

    Examples
    --------
    >>> ds = xr.Dataset({"cost": ("design", [90.0, 120.0, 60.0])})
    >>> where_mask(ds, "not cost > 100").values.tolist()
    [True, False, True]
    >>> where_mask(ds, "costs > 100")
    Traceback (most recent call last):
    ...
    dse.errors.SpecError: where 'costs > 100': 'costs' names no input or output at column 1; did you mean 'cost'?
    """
    ds = _decoded(ds)
    names = list(ds.variables)
    cond = parse_where(expr, names, {n: ds[n].dtype for n in names})
    _check_literals(ds, cond)
    out = cond(ds)
    if not isinstance(out, xr.DataArray):
        out = xr.DataArray(np.bool_(out))
    return out.astype(bool).rename("where").assign_attrs(long_name=expr)
