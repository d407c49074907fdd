"""The FEEL abstract syntax tree: literals, names, operators, invocations and the
unary tests of input entries; and the walks over it (names used, literals,
renaming)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

NUMBER, STRING, BOOLEAN, DATE = "number", "string", "boolean", "date"
TYPES = (NUMBER, STRING, BOOLEAN, DATE)


@dataclass(frozen=True)
class Literal:
    value: Any  # float | str | bool | datetime.date | None (null)
    type: str | None  # one of TYPES, None for null
    text: str = field(compare=False, default="")


@dataclass(frozen=True)
class Name:
    name: str
    offset: int = field(compare=False, default=0)


@dataclass(frozen=True)
class Unary:
    op: str  # '-' | 'not'
    operand: Any


@dataclass(frozen=True)
class Binary:
    op: str  # + - * / ** = != < <= > >= and or
    left: Any
    right: Any


@dataclass(frozen=True)
class Call:
    """Function invocation (FEEL dialect only): ``PMT(a, b)`` or ``PMT(p: a, r: b)``.
    ``arg_names`` is None for positional arguments."""

    function: Name
    args: tuple
    arg_names: tuple | None = None


# Unary tests -------------------------------------------------------------------


@dataclass(frozen=True)
class AnyTest:
    """``-``: matches every value, null included."""


@dataclass(frozen=True)
class NullTest:
    """``null``: matches only null."""


@dataclass(frozen=True)
class Compare:
    op: str  # '=', '!=', '<', '<=', '>', '>='
    endpoint: Any  # an expression (Literal or Name in S-FEEL)


@dataclass(frozen=True)
class Range:
    low: Any
    high: Any
    low_closed: bool
    high_closed: bool


@dataclass(frozen=True)
class AnyOf:
    """Comma list: true when one of the tests is true."""

    tests: tuple


@dataclass(frozen=True)
class Not:
    tests: AnyOf


def map_children(node, fn):
    """A copy of an AST node with ``fn`` applied to each direct sub-node (for
    rewriting passes: renaming variables, inlining functions)."""
    import dataclasses

    changes = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, tuple):
            changes[f.name] = tuple(fn(v) if dataclasses.is_dataclass(v) else v for v in value)
        elif dataclasses.is_dataclass(value):
            changes[f.name] = fn(value)
    return dataclasses.replace(node, **changes) if changes else node


def names_in(node) -> set[str]:
    """Variable names an AST refers to."""
    if isinstance(node, Name):
        return {node.name}
    if isinstance(node, (Unary,)):
        return names_in(node.operand)
    if isinstance(node, Binary):
        return names_in(node.left) | names_in(node.right)
    if isinstance(node, Call):
        return {node.function.name}.union(*(names_in(a) for a in node.args))
    if isinstance(node, Compare):
        return names_in(node.endpoint)
    if isinstance(node, Range):
        return names_in(node.low) | names_in(node.high)
    if isinstance(node, AnyOf):
        return set().union(*(names_in(t) for t in node.tests))
    if isinstance(node, Not):
        return names_in(node.tests)
    return set()


def literals_in(node) -> list[Literal]:
    """Literals compared against the input (for allowed-value checks)."""
    if isinstance(node, Literal):
        return [node]
    if isinstance(node, Compare):
        return literals_in(node.endpoint)
    if isinstance(node, Range):
        return literals_in(node.low) + literals_in(node.high)
    if isinstance(node, AnyOf):
        return [lit for t in node.tests for lit in literals_in(t)]
    if isinstance(node, Not):
        return literals_in(node.tests)
    return []


def map_names(node, rename):
    """The AST with every variable or function name replaced by ``rename(name)``
    (which may also return a whole AST to put in the name's place)."""
    if isinstance(node, Name):
        new = rename(node.name)
        return Name(new, node.offset) if isinstance(new, str) else new
    if isinstance(node, Call):
        target = rename(node.function.name)
        function = Name(target, node.function.offset) if isinstance(target, str) else node.function
        return Call(function, tuple(map_names(a, rename) for a in node.args), node.arg_names)
    if isinstance(node, Literal) or not dataclasses.is_dataclass(node):
        return node
    changes = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, tuple):
            changes[f.name] = tuple(map_names(v, rename) for v in value)
        elif dataclasses.is_dataclass(value):
            changes[f.name] = map_names(value, rename)
    return dataclasses.replace(node, **changes) if changes else node  # type: ignore[type-var]  # an AST dataclass
