"""S-FEEL: the cell language of decision tables (DMN 1.5, chapter 9), hand-parsed.

Two entry points:
- ``parse_unary_tests(text)``: an input entry (``-``, ``>= 1000``, ``[1..5)``,
  ``"a","b"``, ``not(null)``...).
- ``parse_expression(text)``: an output entry or input expression: literals, names,
  arithmetic ``+ - * / **``, comparisons, ``and``/``or``/``not()``, ``date("...")``.

Never ``eval``: the text is tokenised and turned into the small AST below, which
the evaluators interpret. Errors carry the character offset of the bad token.
Full-width punctuation that Chinese input methods produce (``，（）“”``) and the
signs ``≥ ≤ ≠`` are accepted as their ASCII forms.

DMN models (``engine.dmn.loader``) use the same parser in its FEEL dialect
(``Dialect.feel``): no punctuation folding inside the text, function invocation
``PMT(a, b)`` / ``f(p: a)``, and names that contain spaces or ``/ - ' + *``
(``Monthly Salary``) - FEEL resolves those against the names in scope, so the
caller passes them in (``KnownNames``). ``expression_text`` / ``unary_tests_text``
turn an AST back into text that parses to the same AST.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engine.errors import FeelSyntaxError, FeelTypeError, Position

# ---------------------------------------------------------------- AST ----------

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


# --------------------------------------------------------------- lexer ---------

# one character for one, so error offsets still point into the cell as written
_FULL_WIDTH = str.maketrans({"，": ",", "（": "(", "）": ")", "“": '"', "”": '"', "　": " ", "【": "[", "】": "]"})
_SIGNS = {"≥": ">=", "≤": "<=", "≠": "!="}

_OPERATORS = ("..", "<=", ">=", "!=", "**", "<", ">", "=", "(", ")", "[", "]", ",", "+", "-", "*", "/")
_NUMBER_RE = re.compile(r"(\d+(\.\d+)?|\.\d+)")
_KEYWORDS = {"true", "false", "null", "not", "and", "or"}


@dataclass(frozen=True)
class Token:
    kind: str  # 'number' 'string' 'name' 'op' 'bad' 'end'
    text: str
    offset: int
    value: Any = None  # the number (Decimal) or string a number/string token stands for


def _is_name_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_?" or ord(ch) > 0x2E7F


class KnownNames:
    """Names in scope that the plain tokenizer would split (``Monthly Salary``,
    ``Approved/Declined``, ``Applicant Data.Monthly Income``). The longest one
    that starts at a position wins, as FEEL's name resolution does; runs of
    whitespace inside a name match any whitespace."""

    def __init__(self, names):
        special = sorted({" ".join(n.split()) for n in names if n and not _is_plain_name(n)}, key=len, reverse=True)
        self._regex: re.Pattern[str] | None
        if special:
            alternatives = "|".join(r"\s+".join(re.escape(word) for word in n.split(" ")) for n in special)
            self._regex = re.compile(f"(?:{alternatives})(?![\\w?])")
        else:
            self._regex = None

    def match(self, text: str, start: int) -> int | None:
        """End of the known name starting at ``start``, or None."""
        if self._regex is None:
            return None
        found = self._regex.match(text, start)
        return found.end() if found else None


def _is_plain_name(name: str) -> bool:
    """A name the plain tokenizer reads as one token (``annual_revenue``, ``Loan.amount``)."""
    return (
        bool(name)
        and all(_is_name_char(ch) or ch == "." for ch in name)
        and not name[0].isdigit()
        and ".." not in name
        and not name.endswith(".")
    )


@dataclass(frozen=True)
class Dialect:
    """How text is read. ``EXCEL`` (the default) is what managers type in rule
    workbooks: full-width punctuation is folded to ASCII, no function calls.
    ``Dialect.feel(names)`` is DMN XML text: taken literally, with invocations,
    FEEL's string escapes and the multi-word names in scope."""

    fold_punctuation: bool = True
    calls: bool = False
    names: KnownNames | None = None
    feel_escapes: bool = False  # FEEL's \uXXXX and \r inside strings

    @staticmethod
    def feel(names=()) -> Dialect:
        known = names if isinstance(names, KnownNames) else KnownNames(names)
        return Dialect(fold_punctuation=False, calls=True, names=known, feel_escapes=True)


EXCEL = Dialect()


def normalize(text: str) -> str:
    """Full-width punctuation to ASCII, so ``“金融”，“政府”`` reads as ``"金融","政府"``."""
    return text.translate(_FULL_WIDTH)


def tokenize(text: str, dialect: Dialect = EXCEL) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == '"':
            j, chars = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    nxt = text[j + 1]
                    if dialect.feel_escapes and nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[j + 2 : j + 6]):
                        chars.append(chr(int(text[j + 2 : j + 6], 16)))  # FEEL's \uXXXX
                        j += 6
                        continue
                    escapes = {"n": "\n", "t": "\t", "r": "\r"} if dialect.feel_escapes else {"n": "\n", "t": "\t"}
                    chars.append(escapes.get(nxt, nxt))
                    j += 2
                    continue
                chars.append(text[j])
                j += 1
            if j >= n:
                raise FeelSyntaxError(f"string starting at character {i + 1} has no closing quote", Position(offset=i))
            tokens.append(Token("string", text[i : j + 1], i, "".join(chars)))
            i = j + 1
            continue
        known = dialect.names.match(text, i) if dialect.names is not None and not ch.isdigit() else None
        if known is not None:
            j = known
            while j + 1 < n and text[j] == "." and _is_name_char(text[j + 1]):  # a path into the named value
                j += 1
                while j < n and _is_name_char(text[j]):
                    j += 1
            tokens.append(Token("name", " ".join(text[i:j].split()), i))
            i = j
            continue
        number = (
            _NUMBER_RE.match(text, i) if (ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit())) else None
        )
        if number:
            j = number.end()
            if j < n and _is_name_char(text[j]):
                # '1o0', '12abc': a number glued to letters is neither a number nor a name.
                while j < n and _is_name_char(text[j]):
                    j += 1
                tokens.append(Token("bad", text[i:j], i))
            else:
                tokens.append(Token("number", text[i:j], i, float(text[i:j])))
            i = j
            continue
        if _is_name_char(ch):
            j = i
            while j < n and (
                _is_name_char(text[j])
                or (text[j] == "." and j + 1 < n and _is_name_char(text[j + 1]) and text[j + 1] != ".")
            ):
                j += 1
            tokens.append(Token("name", text[i:j], i))
            i = j
            continue
        if ch in _SIGNS:
            tokens.append(Token("op", _SIGNS[ch], i))
            i += 1
            continue
        if ch == ":" and dialect.calls:  # named argument f(p: 1)
            tokens.append(Token("op", ":", i))
            i += 1
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                tokens.append(Token("op", op, i))
                i += len(op)
                break
        else:
            j = i + 1
            while j < n and not text[j].isspace():
                j += 1
            tokens.append(Token("bad", text[i:j], i))
            i = j
    tokens.append(Token("end", "", n))
    return tokens


# -------------------------------------------------------------- parser ---------

_COMPARATORS = ("<", "<=", ">", ">=", "=", "!=")
_TYPE_WORD = {
    NUMBER: "a number",
    STRING: 'a "string"',
    BOOLEAN: "true or false",
    DATE: 'a date like date("2026-01-31")',
    None: "a value",
}


def _describe(tok: Token) -> str:
    return "the end of the cell" if tok.kind == "end" else f"'{tok.text}'"


class _Parser:
    def __init__(self, text: str, expected: str | None, dialect: Dialect = EXCEL):
        self.text = text
        self.tokens = tokenize(text, dialect)
        self.pos = 0
        self.expected = expected  # declared type of the input column, for messages
        self.calls = dialect.calls

    # helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def at_word(self, *words: str) -> bool:
        return self.tok.kind == "name" and self.tok.text in words

    def fail(self, message: str, tok: Token | None = None):
        tok = tok or self.tok
        raise FeelSyntaxError(message, Position(offset=tok.offset))

    def expect_op(self, op: str, context: str):
        if not self.at_op(op):
            self.fail(f"expected '{op}' {context}, got {_describe(self.tok)}")
        return self.advance()

    def expect_end(self):
        if self.tok.kind != "end":
            self.fail(f"unexpected {_describe(self.tok)} (a comma separates alternatives)")

    # unary tests
    def unary_tests(self):
        if self.at_op("-") and self.tokens[self.pos + 1].kind == "end":
            self.advance()
            return AnyTest()
        if self.at_word("not") and self.tokens[self.pos + 1].kind == "op" and self.tokens[self.pos + 1].text == "(":
            start = self.pos
            self.advance()
            self.advance()
            tests = self.positive_unary_tests(closing=")")
            self.expect_op(")", "to close not(")
            if self.tok.kind == "end":
                return Not(tests)
            self.pos = start  # 'not(x) , y' is not a negation: fall through
        tests = self.positive_unary_tests()
        self.expect_end()
        return tests if len(tests.tests) > 1 else tests.tests[0]

    def positive_unary_tests(self, closing: str | None = None) -> AnyOf:
        tests = [self.positive_unary_test()]
        while self.at_op(","):
            comma = self.advance()
            self._refuse_thousands_separator(comma)
            tests.append(self.positive_unary_test())
        return AnyOf(tuple(tests))

    def _refuse_thousands_separator(self, comma: Token):
        prev, nxt = self.tokens[self.pos - 2], self.tok
        if (
            prev.kind == "number"
            and nxt.kind == "number"
            and prev.offset + len(prev.text) == comma.offset
            and nxt.offset == comma.offset + 1
            and len(nxt.text) == 3
            and nxt.text.isdigit()
        ):
            self.fail(
                f"write {prev.text}{nxt.text} without the thousands separator: a comma separates alternatives", comma
            )

    def positive_unary_test(self):
        if self.at_word("null"):
            self.advance()
            return NullTest()
        if self.at_op(*_COMPARATORS):
            op = self.advance().text
            return Compare(op, self.endpoint(f"after '{op}'"))
        if self.at_op("[", "(", "]"):
            opener = self.advance().text
            low = self.endpoint(f"after '{opener}'")
            self.expect_op("..", "between the two ends of the range")
            high = self.endpoint("after '..'")
            if not self.at_op("]", ")", "["):
                self.fail(f"expected ']', ')' or '[' to close the range, got {_describe(self.tok)}")
            closer = self.advance().text
            return Range(low, high, opener == "[", closer == "]")
        return Compare("=", self.endpoint("here"))

    def endpoint(self, context: str):
        """An endpoint: a literal (with an optional minus sign) or a variable name."""
        tok = self.tok
        want = _TYPE_WORD[self.expected]
        if self.at_op("-") and self.tokens[self.pos + 1].kind == "number":
            self.advance()
            num = self.advance()
            return self._typed(Literal(-num.value, NUMBER, "-" + num.text), tok, context)
        if tok.kind in ("bad", "end") or (tok.kind == "op" and tok.text not in ("(",)):
            self.fail(f"expected {want} {context}, got {_describe(tok)}")
        node = self.primary()
        return self._typed(node, tok, context)

    def _typed(self, node, tok: Token, context: str):
        if (
            isinstance(node, Literal)
            and node.type is not None
            and self.expected is not None
            and node.type != self.expected
        ):
            raise FeelTypeError(
                f"expected {_TYPE_WORD[self.expected]} {context}, got {_describe(tok) if tok.kind != 'string' else tok.text}",
                Position(offset=tok.offset),
            )
        return node

    # expressions (precedence climbing, lowest first)
    def expression(self):
        node = self.disjunction()
        return node

    def disjunction(self):
        node = self.conjunction()
        while self.at_word("or"):
            self.advance()
            node = Binary("or", node, self.conjunction())
        return node

    def conjunction(self):
        node = self.comparison()
        while self.at_word("and"):
            self.advance()
            node = Binary("and", node, self.comparison())
        return node

    def comparison(self):
        node = self.additive()
        if self.at_op(*_COMPARATORS):
            op = self.advance().text
            node = Binary(op, node, self.additive())
        return node

    def additive(self):
        node = self.multiplicative()
        while self.at_op("+", "-"):
            op = self.advance().text
            node = Binary(op, node, self.multiplicative())
        return node

    def multiplicative(self):
        node = self.power()
        while self.at_op("*", "/"):
            op = self.advance().text
            node = Binary(op, node, self.power())
        return node

    def power(self):
        node = self.unary()
        while self.at_op("**"):  # left to right, as the DMN TCK expects
            self.advance()
            node = Binary("**", node, self.unary())
        return node

    def unary(self):
        if self.at_op("-"):
            self.advance()
            operand = self.unary()
            if isinstance(operand, Literal) and operand.type == NUMBER:
                return Literal(-operand.value, NUMBER, "-" + operand.text)
            return Unary("-", operand)
        return self.primary()

    def primary(self):
        tok = self.tok
        if tok.kind == "number":
            self.advance()
            return Literal(tok.value, NUMBER, tok.text)
        if tok.kind == "string":
            self.advance()
            return Literal(tok.value, STRING, tok.text)
        if tok.kind == "name":
            word = tok.text
            if word in ("true", "false"):
                self.advance()
                return Literal(word == "true", BOOLEAN, word)
            if word == "null":
                self.advance()
                return Literal(None, None, "null")
            if word == "date" and self.tokens[self.pos + 1].text == "(":
                return self.date_literal()
            if word == "not" and self.tokens[self.pos + 1].text == "(":
                self.advance()
                self.advance()
                inner = self.expression()
                self.expect_op(")", "to close not(")
                return Unary("not", inner)
            if word in _KEYWORDS:
                self.fail(f"'{word}' cannot stand here")
            if self.calls and self.tokens[self.pos + 1].kind == "op" and self.tokens[self.pos + 1].text == "(":
                return self.call()
            self.advance()
            return Name(word, tok.offset)
        if self.at_op("("):
            self.advance()
            inner = self.expression()
            self.expect_op(")", "to close '('")
            return inner
        self.fail(f"expected a value, got {_describe(tok)}")

    def call(self) -> Call:
        name = self.advance()
        self.advance()  # '('
        args: list = []
        names: list[str] = []
        while not self.at_op(")"):
            if args:
                self.expect_op(",", f"between the arguments of {name.text}(")
            if (
                self.tok.kind == "name"
                and self.tokens[self.pos + 1].kind == "op"
                and self.tokens[self.pos + 1].text == ":"
            ):
                names.append(self.advance().text)
                self.advance()
            elif names:
                self.fail(f"positional argument after named ones in {name.text}(")
            args.append(self.expression())
        self.expect_op(")", f"to close {name.text}(")
        if names and len(names) != len(args):
            self.fail(f"mix of named and positional arguments in {name.text}(", name)
        return Call(Name(name.text, name.offset), tuple(args), tuple(names) if names else None)

    def date_literal(self) -> Literal:
        self.advance()  # 'date'
        self.advance()  # '('
        arg = self.tok
        if arg.kind != "string":
            self.fail(f'expected a "yyyy-mm-dd" string inside date(, got {_describe(arg)}')
        self.advance()
        self.expect_op(")", "to close date(")
        try:
            value = dt.date.fromisoformat(arg.value)
        except ValueError:
            raise FeelSyntaxError(
                f'{arg.text} is not a date of the form "yyyy-mm-dd"', Position(offset=arg.offset)
            ) from None
        return Literal(value, DATE, f"date({arg.text})")


def _prepare(text, dialect: Dialect) -> str:
    text = str(text)
    return (normalize(text) if dialect.fold_punctuation else text).strip()


def parse_unary_tests(text: str, expected_type: str | None = None, dialect: Dialect = EXCEL):
    """Parse an input entry. ``expected_type`` (the column's declared type) makes
    messages precise and refuses literals of another type."""
    text = _prepare(text, dialect)
    if text == "":
        return AnyTest()
    return _Parser(text, expected_type, dialect).unary_tests()


def parse_expression(text: str, dialect: Dialect = EXCEL):
    """Parse an output entry / input expression."""
    text = _prepare(text, dialect)
    parser = _Parser(text, None, dialect)
    if text == "":
        parser.fail("expected a value, got an empty cell")
    node = parser.expression()
    if parser.tok.kind != "end":
        parser.fail(f"unexpected {_describe(parser.tok)} after the expression")
    return node


# ------------------------------------------------------- walking the AST -------


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


def format_value(value) -> str:
    """A value as a manager reads it: 2560 -> '2,560', 0.5 -> '0.5', true -> 'true'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:
            return "null"
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.6f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def describe_test(node) -> str:
    """A unary test in words-and-signs, used after the actual value in reasons:
    'annual revenue 2,560 ≥ 1,000'."""
    if isinstance(node, AnyTest):
        return "any"
    if isinstance(node, NullTest):
        return "is empty"
    if isinstance(node, Compare):
        sign = {"=": "=", "!=": "≠", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}[node.op]
        if node.op == "=":
            return "= " + describe_expr(node.endpoint)
        return f"{sign} {describe_expr(node.endpoint)}"
    if isinstance(node, Range):
        low = "[" if node.low_closed else "("
        high = "]" if node.high_closed else ")"
        return f"in {low}{describe_expr(node.low)}..{describe_expr(node.high)}{high}"
    if isinstance(node, AnyOf):
        if all(isinstance(t, Compare) and t.op == "=" for t in node.tests):
            return "in " + ", ".join(describe_expr(t.endpoint) for t in node.tests)
        return " or ".join(describe_test(t) for t in node.tests)
    if isinstance(node, Not):
        return f"not {describe_test(node.tests)}"
    return "?"


def describe_expr(node) -> str:
    if isinstance(node, Literal):
        if node.type == STRING:
            return str(node.value)
        return format_value(node.value)
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Unary):
        return f"-{describe_expr(node.operand)}" if node.op == "-" else f"not({describe_expr(node.operand)})"
    if isinstance(node, Binary):
        sign = {"*": "×", "/": "÷", "**": "^", ">=": "≥", "<=": "≤", "!=": "≠"}.get(node.op, node.op)
        return f"{describe_expr(node.left)} {sign} {describe_expr(node.right)}"
    if isinstance(node, AnyOf):
        return describe_test(node)
    return describe_test(node)


# ------------------------------------------------------ AST back to text -------

# binding strength of each operator, lowest first (as the parser climbs them)
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


def literal_text(lit: Literal) -> str:
    """A literal as S-FEEL source: ``1000``, ``-0.5``, ``"say \\"hi\\""``, ``date("2026-01-31")``."""
    if lit.type is None:
        return "null"
    if lit.type == BOOLEAN:
        return "true" if lit.value else "false"
    if lit.type == DATE:
        return f'date("{lit.value.isoformat()}")'
    if lit.type == NUMBER:
        value = float(lit.value)
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return format(Decimal(repr(value)), "f")  # never an exponent: the tokenizer reads none
    escaped = str(lit.value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


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


# ------------------------------------------------------- rewriting ASTs --------


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
