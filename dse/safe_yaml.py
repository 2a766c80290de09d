r"""The one way dse reads YAML: safe tags only, and bounded in size, depth and aliases.

``yaml.safe_load`` already refuses Python tags (``!!python/object``), but it
happily builds a document whose aliases expand to 10⁹ nodes (the "billion
laughs"), a list nested 10⁵ deep, or a self-referencing list. This loader
composes the document event by event and stops as soon as one of the
:class:`~dse.limits.Limits` is crossed, so a hostile file costs at most
``max_yaml_nodes`` nodes of memory and never reaches code that would expand
it. Recursive aliases are refused outright.

>>> loads("a: [1, 2]\nb: {c: x}")
{'a': [1, 2], 'b': {'c': 'x'}}
>>> loads("a: &x [1, 2]\nb: *x")
{'a': [1, 2], 'b': [1, 2]}
>>> loads("!!python/object/apply:os.system ['true']", where="bad.yaml")
Traceback (most recent call last):
...
dse.errors.SpecError: bad.yaml: malformed YAML at line 1, column 1: could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, ScalarNode
from yaml.resolver import Resolver

from dse.errors import DseError, SpecError, YamlLimitError
from dse.limits import Limits, current_limits

__all__ = ["loads", "read_text_bounded", "load_file", "YamlLimitError"]

try:  # libyaml's parser (C) under the composer below (Python): ~4x faster than pure Python
    from yaml.cyaml import CParser

    class _Parser(CParser):
        def __init__(self, stream: str):
            CParser.__init__(self, stream)
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, Parser):  # type: ignore[no-redef]
        def __init__(self, stream: str):
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)


class _Resolver(Resolver):
    """YAML 1.1 resolution, plus YAML 1.2's floats without a dot (``4e0``, ``1e-3``)."""


_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789")
)

_MERGE = "tag:yaml.org,2002:merge"


class _BoundedLoader(Composer, _Parser, SafeConstructor, _Resolver):
    """Safe loader that counts nodes (aliases expanded), depth and aliases while composing."""

    def __init__(self, stream: str, limits: Limits):
        _Parser.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        _Resolver.__init__(self)
        self.limits = limits
        self.depth = 0
        self.nodes = 0
        self.aliases = 0
        self.expanded: dict[str, int] = {}  # anchor → nodes of its value, aliases expanded

    def _refuse(self, message: str, event) -> YamlLimitError:
        mark = event.start_mark
        return YamlLimitError(f"{message} at line {mark.line + 1}, column {mark.column + 1}")

    def compose_node(self, parent, index):
        event = self.peek_event()
        lim = self.limits
        if isinstance(event, AliasEvent):
            self.aliases += 1
            if self.aliases > lim.max_yaml_aliases:
                raise self._refuse(
                    f"more than {lim.max_yaml_aliases} aliases ({Limits.variable('max_yaml_aliases')})", event
                )
            if event.anchor in self.anchors and event.anchor not in self.expanded:
                raise self._refuse(f"recursive alias *{event.anchor}", event)
            self.nodes += self.expanded.get(event.anchor, 1)
            self._check_nodes(event)
            return super().compose_node(parent, index)
        collection = isinstance(event, SequenceStartEvent | MappingStartEvent)
        if collection:
            self.depth += 1
            if self.depth > lim.max_yaml_depth:
                raise self._refuse(
                    f"nested deeper than {lim.max_yaml_depth} levels ({Limits.variable('max_yaml_depth')})", event
                )
        before = self.nodes
        self.nodes += 1
        self._check_nodes(event)
        try:
            node = super().compose_node(parent, index)
        finally:
            if collection:
                self.depth -= 1
        if event.anchor is not None:
            self.expanded[event.anchor] = self.nodes - before
        return node

    def construct_mapping(self, node, deep=False):
        """A mapping whose keys are unique: a repeated key names both of its lines."""
        if isinstance(node, MappingNode):
            seen: dict[tuple[str, str], Any] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE:
                    continue
                key = (key_node.tag, key_node.value)
                if key in seen:
                    first = seen[key]
                    raise ConstructorError(
                        None,
                        None,
                        f"duplicate key {key_node.value!r} (lines {first.line + 1} and {key_node.start_mark.line + 1})",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)

    def _check_nodes(self, event) -> None:
        lim = self.limits
        if self.nodes > lim.max_yaml_nodes:
            raise self._refuse(
                f"more than {lim.max_yaml_nodes:,} values with aliases expanded ({Limits.variable('max_yaml_nodes')})",
                event,
            )


def loads(text: str, where: str | None = None, limits: Limits | None = None) -> Any:
    r"""Parse one YAML document with safe tags and bounded size.

    Parameters
    ----------
    text : str
        The document.
    where : str, optional
        File or attribute name for messages.
    limits : Limits, optional
        Default: :func:`dse.limits.current_limits`.

    Returns
    -------
    object
        Plain dicts, lists, strings, numbers, booleans, dates and None.

    Raises
    ------
    SpecError
        "malformed YAML at line l, column c: ..." or, for a limit,
        :class:`YamlLimitError` naming the limit and its variable.

    Examples
    --------
    >>> bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    ...     f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    >>> loads(bomb, where="lol.yaml")
    Traceback (most recent call last):
    ...
    dse.errors.YamlLimitError: lol.yaml: more than 100,000 values with aliases expanded (DSE_MAX_YAML_NODES) at line 5, column 36
    """
    limits = limits or current_limits()
    if not isinstance(text, str):
        raise SpecError(f"expected YAML text, got {type(text).__name__}", where=where)
    if "\x00" in text:
        raise SpecError("malformed YAML: contains a NUL character", where=where)
    try:
        loader = _BoundedLoader(text, limits)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except YamlLimitError as exc:
        raise YamlLimitError(exc.message, where=where) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0] or "invalid syntax"
        raise SpecError(f"malformed YAML{line}: {problem}", where=where) from None
    except (RecursionError, MemoryError):
        raise YamlLimitError("too large or too deeply nested to read", where=where) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a date such as 2024-02-30
        raise SpecError(
            f"malformed YAML: {str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__}", where=where
        ) from None


def read_text_bounded(
    path: str | Path,
    what: str,
    max_bytes: int,
    variable: str,
    error: type[DseError] = SpecError,
    encoding: str = "utf-8",
) -> str:
    """Read a text file of at most ``max_bytes`` bytes, never more.

    The size is checked before reading, and the read itself stops one byte
    past the limit, so a FIFO, ``/dev/zero`` or a file that grows while read
    cannot exhaust memory.

    Raises
    ------
    DseError
        ``error`` with "not found", "is a directory", "over the limit" or
        "not UTF-8 text".
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        if p.is_dir():
            raise error(f"{what} is a directory", where=str(p))
        if size > max_bytes:
            raise error(f"{what} is {size:,} bytes, over the limit of {max_bytes:,} ({variable})", where=str(p))
        with open(p, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise error(f"{what} not found", where=str(p)) from None
    except OSError as exc:
        raise error(f"cannot read {what} ({exc.strerror or exc.__class__.__name__})", where=str(p)) from None
    if len(data) > max_bytes:
        raise error(f"{what} is over the limit of {max_bytes:,} bytes ({variable})", where=str(p))
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise error(f"{what} is not UTF-8 text (byte {exc.start + 1})", where=str(p)) from None


def load_file(path: str | Path, what: str = "file", limits: Limits | None = None) -> Any:
    """Read and parse a YAML file with :func:`loads`; errors name the file and line."""
    limits = limits or current_limits()
    text = read_text_bounded(path, what, limits.max_file_bytes, Limits.variable("max_file_bytes"))
    return loads(text, where=str(path), limits=limits)
