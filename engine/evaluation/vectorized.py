"""The vectorized evaluator: a decision table over n rows in a handful of numpy
calls per rule - no Python loop over rows.

Matching builds an (R, n) boolean matrix; hit-policy aggregation
(``engine.evaluation.hitpolicy``) turns it into outputs, rule ids and errors, and
``engine.evaluation.reasons`` writes the one-line reason. FEEL's three-valued logic is kept:
a test is true, false or null (unknown), and only a true test matches.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from engine import feel
from engine.evaluation.columns import NULL, Column, literal_value

_CMP = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "=": operator.eq, "!=": operator.ne}


# ------------------------------------------------------------- expressions -----


def eval_expr(node, env: dict[str, Column], n: int) -> Column:
    """Evaluate an S-FEEL expression on n rows. Type errors give null, as in FEEL."""
    if isinstance(node, feel.Literal):
        return _constant(node, n)
    if isinstance(node, feel.Name):
        return env[node.name]
    if isinstance(node, feel.Unary):
        inner = eval_expr(node.operand, env, n)
        if node.op == "-":
            return Column("number", -inner.values) if inner.type == "number" else _null(n)
        if inner.type != "boolean":
            return _null(n, "boolean")
        return Column("boolean", np.where(np.isnan(inner.values), np.nan, 1.0 - inner.values))
    if isinstance(node, feel.Call):
        # the env holds an invocable under the function's name (a DMN business
        # knowledge model, see engine.dmn.functions); arguments are evaluated here
        function: Any = env[node.function.name]  # not a Column: an object with invoke()
        return function.invoke([eval_expr(a, env, n) for a in node.args], n)
    if isinstance(node, feel.Binary):
        if node.op in ("and", "or"):
            return _logic(node.op, eval_expr(node.left, env, n), eval_expr(node.right, env, n))
        left, right = eval_expr(node.left, env, n), eval_expr(node.right, env, n)
        if node.op in _CMP:
            t, known = _compare(node.op, left, right)
            return Column("boolean", np.where(known, t.astype(float), np.nan))
        return _arithmetic(node.op, left, right, n)
    raise TypeError(f"not an expression: {node!r}")


def _constant(lit: feel.Literal, n: int) -> Column:
    """A literal as a column of n rows: one value seen n times (a read-only view; columns
    are read, never written, once evaluation has them). A million-row array per literal
    was 8 MB of new memory each, 62 of them for the shipped client rules."""
    if lit.type in ("number", "boolean", "date"):
        return Column(lit.type, np.broadcast_to(np.float64(literal_value(lit.type, lit.value)), n))
    one = np.empty(1, dtype=object)
    one[0] = lit.value
    return Column(lit.type or "string", np.broadcast_to(one, n))


def _null(n: int, type_: str = "number") -> Column:
    return Column(type_, np.full(n, np.nan))


def _logic(op: str, a: Column, b: Column) -> Column:
    av = a.values if a.type == "boolean" else np.full(len(a), np.nan)
    bv = b.values if b.type == "boolean" else np.full(len(b), np.nan)
    if op == "and":
        out = np.where((av == 0) | (bv == 0), 0.0, np.where((av == 1) & (bv == 1), 1.0, np.nan))
    else:
        out = np.where((av == 1) | (bv == 1), 1.0, np.where((av == 0) & (bv == 0), 0.0, np.nan))
    return Column("boolean", out)


def _arithmetic(op: str, a: Column, b: Column, n: int) -> Column:
    if a.type == "number" and b.type == "number":
        with np.errstate(all="ignore"):
            x, y = a.values, b.values
            if op == "+":
                out = x + y
            elif op == "-":
                out = x - y
            elif op == "*":
                out = x * y
            elif op == "/":
                out = np.where(y == 0, np.nan, x / np.where(y == 0, 1, y))  # FEEL: division by zero is null
            else:
                out = np.power(x, y)
        out[~np.isfinite(out)] = np.nan
        return Column("number", out)
    if op == "+" and a.type == "string" and b.type == "string":
        null = a.isnull() | b.isnull()
        out = np.where(null, NULL, np.where(null, "", a.values) + np.where(null, "", b.values))
        return Column("string", out.astype(object))
    if a.type == "date" and b.type == "date" and op == "-":
        return Column("number", a.values - b.values)  # days between
    return _null(n)


def _compare(op: str, a: Column, b: Column) -> tuple[np.ndarray, np.ndarray]:
    """(true mask, known mask) of `a op b`. Different types compare as null; for
    '=' and '!=' null equals only null (FEEL)."""
    null_a, null_b = a.isnull(), b.isnull()
    if a.type != b.type and not (null_a.all() or null_b.all()):
        return _different_kinds(op, null_a, null_b)
    both = ~null_a & ~null_b
    if a.is_float and b.is_float:
        with np.errstate(invalid="ignore"):
            t = _CMP[op](a.values, b.values) & both
    else:
        t = np.zeros(len(a), bool)
        if both.any():
            t[both] = _CMP[op](a.values[both], b.values[both]).astype(bool)
    if op in ("=", "!="):
        same_null = null_a & null_b
        if op == "=":
            return t | same_null, np.ones(len(a), bool)
        return t | (null_a ^ null_b), np.ones(len(a), bool)
    return t, both


def _different_kinds(op: str, null_a: np.ndarray, null_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values of different kinds compare as null (FEEL), except that null equals
    only null: on rows where a side is null, '=' and '!=' are known."""
    either = null_a | null_b
    if op == "=":
        return null_a & null_b, either
    if op == "!=":
        return null_a ^ null_b, either
    n = len(null_a)
    return np.zeros(n, bool), np.zeros(n, bool)


# ------------------------------------------------------------- unary tests -----


def test_mask(test, column: Column, env: dict[str, Column]) -> np.ndarray:
    """Rows where the unary test is true."""
    if isinstance(test, feel.AnyTest):
        return np.ones(len(column), bool)
    if not column.is_float and not feel.names_in(test):
        # Strings: decide each distinct value once, then gather by code (null -> last slot).
        codes, uniques = column.factorized()
        t, _ = _test(test, Column(column.type, np.append(uniques, NULL)), {})
        return t[codes]
    return _test(test, column, env)[0]


def _test(test, col: Column, env) -> tuple[np.ndarray, np.ndarray]:
    n = len(col)
    if isinstance(test, feel.AnyTest):
        return np.ones(n, bool), np.ones(n, bool)
    if isinstance(test, feel.NullTest):
        return col.isnull(), np.ones(n, bool)
    if isinstance(test, feel.Compare):
        return _compare_endpoint(test.op, col, test.endpoint, env)
    if isinstance(test, feel.Range):
        lo_t, lo_k = _compare_endpoint(">=" if test.low_closed else ">", col, test.low, env)
        hi_t, hi_k = _compare_endpoint("<=" if test.high_closed else "<", col, test.high, env)
        t = lo_t & hi_t
        return t, (lo_k & hi_k) | (lo_k & ~lo_t) | (hi_k & ~hi_t)
    if isinstance(test, feel.AnyOf):
        t, all_known = np.zeros(n, bool), np.ones(n, bool)
        for sub in test.tests:
            st, sk = _test(sub, col, env)
            t |= st
            all_known &= sk
        return t, t | all_known
    if isinstance(test, feel.Not):
        t, known = _test(test.tests, col, env)
        return known & ~t, known
    raise TypeError(f"not a unary test: {test!r}")


def _compare_endpoint(op: str, col: Column, endpoint, env) -> tuple[np.ndarray, np.ndarray]:
    n = len(col)
    if isinstance(endpoint, feel.Literal):
        if endpoint.type is None:  # '= null', '< null'
            return (
                (col.isnull(), np.ones(n, bool))
                if op == "="
                else (~col.isnull(), np.ones(n, bool))
                if op == "!="
                else (np.zeros(n, bool), np.zeros(n, bool))
            )
        if endpoint.type != col.type and not (col.type in ("number", "date") and endpoint.type == col.type):
            return _different_kinds(op, col.isnull(), np.zeros(n, bool))
        value = literal_value(endpoint.type, endpoint.value)
        null = col.isnull()
        if col.is_float:
            with np.errstate(invalid="ignore"):
                t = _CMP[op](col.values, value)
        else:
            t = np.zeros(n, bool)
            t[~null] = _CMP[op](col.values[~null], value).astype(bool)
        if op == "!=":
            t = t | null
            return t, np.ones(n, bool)
        if op == "=":
            return t & ~null, np.ones(n, bool)
        return t & ~null, ~null
    other = eval_expr(endpoint, env, n)
    return _compare(op, col, other)
