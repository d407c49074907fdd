"""FEEL, the cell language of decision tables: S-FEEL (DMN 1.5, chapter 9) and the
few FEEL extras DMN models use, parsed by kade's own grammar - never ``eval``.

``lexer`` (text to tokens) -> ``parser`` (tokens to the ``ast``) -> evaluated by
``engine.evaluation``; ``printer`` turns an AST back into FEEL text, ``describe``
into words for reasons. The names below are the package's API."""

from __future__ import annotations

from engine.feel.ast import (
    BOOLEAN,
    DATE,
    NUMBER,
    STRING,
    TYPES,
    AnyOf,
    AnyTest,
    Binary,
    Call,
    Compare,
    Literal,
    Name,
    Not,
    NullTest,
    Range,
    Unary,
    literals_in,
    map_children,
    map_names,
    names_in,
)
from engine.feel.describe import describe_expr, describe_test
from engine.feel.lexer import EXCEL, KEYWORDS, Dialect, KnownNames, Token, normalize, tokenize
from engine.feel.parser import TYPE_WORDS, is_name, parse_expression, parse_unary_tests
from engine.feel.printer import expression_text, feel_literal, feel_text, literal_text, unary_tests_text

__all__ = [
    "AnyOf",
    "AnyTest",
    "BOOLEAN",
    "Binary",
    "Call",
    "Compare",
    "DATE",
    "Dialect",
    "EXCEL",
    "KEYWORDS",
    "KnownNames",
    "Literal",
    "NUMBER",
    "Name",
    "Not",
    "NullTest",
    "Range",
    "STRING",
    "TYPES",
    "TYPE_WORDS",
    "Token",
    "Unary",
    "describe_expr",
    "describe_test",
    "expression_text",
    "feel_literal",
    "feel_text",
    "is_name",
    "literal_text",
    "literals_in",
    "map_children",
    "map_names",
    "names_in",
    "normalize",
    "parse_expression",
    "parse_unary_tests",
    "tokenize",
    "unary_tests_text",
]
