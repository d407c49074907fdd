"""ASTs in words-and-signs for reasons and explanations: 'annual revenue 2,560 ≥
1,000', 'industry in 金融, 政府'. Not FEEL: for reading, never parsed back."""

from __future__ import annotations

from engine.feel.ast import STRING, AnyOf, AnyTest, Binary, Compare, Literal, Name, Not, NullTest, Range, Unary
from engine.text import format_value


def describe_test(node, names: dict[str, str] | None = None) -> str:
    """A unary test in words-and-signs, used after the actual value in reasons:
    'annual revenue 2,560 ≥ 1,000'. ``names``: how to show some names (a
    computed value with its value: '★ cut-off 36.5')."""
    if isinstance(node, AnyTest):
        return "any"
    if isinstance(node, NullTest):
        return "is empty"
    if isinstance(node, Compare):
        sign = {"=": "=", "!=": "≠", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}[node.op]
        if node.op == "=":
            return "= " + describe_expr(node.endpoint, names)
        return f"{sign} {describe_expr(node.endpoint, names)}"
    if isinstance(node, Range):
        low = "[" if node.low_closed else "("
        high = "]" if node.high_closed else ")"
        return f"in {low}{describe_expr(node.low, names)}..{describe_expr(node.high, names)}{high}"
    if isinstance(node, AnyOf):
        if all(isinstance(t, Compare) and t.op == "=" for t in node.tests):
            return "in " + ", ".join(describe_expr(t.endpoint, names) for t in node.tests)
        return " or ".join(describe_test(t, names) for t in node.tests)
    if isinstance(node, Not):
        return f"not {describe_test(node.tests, names)}"
    return "?"


def describe_expr(node, names: dict[str, str] | None = None) -> str:
    if isinstance(node, Literal):
        if node.type == STRING:
            return str(node.value)
        return format_value(node.value)
    if isinstance(node, Name):
        return (names or {}).get(node.name, node.name)
    if isinstance(node, Unary):
        operand = describe_expr(node.operand, names)
        return f"-{operand}" if node.op == "-" else f"not({operand})"
    if isinstance(node, Binary):
        sign = {"*": "×", "/": "÷", "**": "^", ">=": "≥", "<=": "≤", "!=": "≠"}.get(node.op, node.op)
        return f"{describe_expr(node.left, names)} {sign} {describe_expr(node.right, names)}"
    return describe_test(node, names)
