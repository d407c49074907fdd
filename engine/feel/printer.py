"""The one FEEL printer: an AST back to text that parses to the same AST
(``expression_text``, ``unary_tests_text``), used by exports, rule diffs, the
static check and ``kade rules show``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from engine.feel.ast import NUMBER, AnyOf, AnyTest, Binary, Call, Compare, Literal, Name, Not, NullTest, Range, Unary

_PRECEDENCE = {
    "or": 1,
    "and": 2,
    "=": 3,
    "!=": 3,
    "<": 3,
    "<=": 3,
    ">": 3,
    ">=": 3,
    "+": 4,
    "-": 4,
    "*": 5,
    "/": 5,
    "**": 6,
}
_UNARY, _PRIMARY = 7, 8


def feel_literal(value) -> str:
    """A Python value as FEEL source: ``1000``, ``-0.5``, ``"say \\"hi\\""``,
    ``date("2026-01-31")``, ``null``, ``[1, 2]``, ``{a: 1}``. Never an exponent:
    the tokenizer reads none."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        if isinstance(value, float) and value != value:
            return "null"
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        return format(number.normalize(), "f") if number != number.to_integral_value() else format(number, "f")
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return f'date("{value.date().isoformat()}")'
        return f'date and time("{value.isoformat()}")'
    if isinstance(value, dt.date):
        return f'date("{value.isoformat()}")'
    if isinstance(value, list):
        return "[" + ", ".join(feel_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {feel_literal(v)}" for k, v in value.items()) + "}"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def literal_text(lit: Literal) -> str:
    """A literal as S-FEEL source (see ``feel_literal``)."""
    if lit.type == NUMBER:
        return feel_literal(float(lit.value))
    return feel_literal(lit.value)


def expression_text(node) -> str:
    """An expression AST as text that parses back to the same AST."""
    return _text(node, 0)


def _strength(node) -> int:
    if isinstance(node, Binary):
        return _PRECEDENCE[node.op]
    if isinstance(node, Unary) and node.op == "-":
        return _UNARY
    if isinstance(node, Literal) and node.type == NUMBER and float(node.value) < 0:
        return _UNARY  # '-5' reads as a negation
    return _PRIMARY


def _text(node, weakest: int) -> str:
    if isinstance(node, Literal):
        text = literal_text(node)
    elif isinstance(node, Name):
        text = node.name
    elif isinstance(node, Unary):
        text = f"not({_text(node.operand, 0)})" if node.op == "not" else "-" + _text(node.operand, _UNARY)
    elif isinstance(node, Call):
        if node.arg_names:
            args = ", ".join(f"{k}: {_text(a, 0)}" for k, a in zip(node.arg_names, node.args))
        else:
            args = ", ".join(_text(a, 0) for a in node.args)
        text = f"{node.function.name}({args})"
    elif isinstance(node, Binary):
        strength = _PRECEDENCE[node.op]
        # left-associative: the right operand must bind tighter; comparisons do not chain
        left = _text(node.left, strength + 1 if strength == 3 else strength)
        right = _text(node.right, strength + 1)
        text = f"{left} {node.op} {right}"
    else:
        raise TypeError(f"not an expression: {node!r}")
    return f"({text})" if _strength(node) < weakest else text


def _endpoint_text(node) -> str:
    if isinstance(node, Unary) and node.op == "not":
        return f"({_text(node, 0)})"  # a bare not(...) would read as a negated test
    return _text(node, _UNARY)


def unary_tests_text(test) -> str:
    """A unary-test AST as input-entry text that parses back to the same AST."""
    if isinstance(test, AnyTest):
        return "-"
    if isinstance(test, NullTest):
        return "null"
    if isinstance(test, Compare):
        endpoint = _endpoint_text(test.endpoint)
        if test.op == "=" and not endpoint.startswith("("):  # a leading '(' would open a range
            return endpoint
        return f"{test.op} {endpoint}"
    if isinstance(test, Range):
        low, high = _endpoint_text(test.low), _endpoint_text(test.high)
        return f"{'[' if test.low_closed else '('}{low}..{high}{']' if test.high_closed else ')'}"
    if isinstance(test, AnyOf):
        return ", ".join(unary_tests_text(t) for t in test.tests)
    if isinstance(test, Not):
        return f"not({unary_tests_text(test.tests)})"
    raise TypeError(f"not a unary test: {test!r}")


def feel_text(node) -> str:
    """Any entry as S-FEEL text: an input entry (unary tests), an output entry or
    input expression; '' for none."""
    if node is None:
        return ""
    if isinstance(node, (AnyTest, NullTest, Compare, Range, AnyOf, Not)):
        return unary_tests_text(node)
    return expression_text(node)
