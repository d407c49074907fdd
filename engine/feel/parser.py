"""S-FEEL: the cell language of decision tables (DMN 1.5, chapter 9), hand-parsed.

Two entry points:
- ``parse_unary_tests(text)``: an input entry (``-``, ``>= 1000``, ``[1..5)``,
  ``"a","b"``, ``not(null)``...).
- ``parse_expression(text)``: an output entry or input expression: literals, names,
  arithmetic ``+ - * / **``, comparisons, ``and``/``or``/``not()``, ``date("...")``.

Never ``eval``: the text is tokenised (``engine.feel.lexer``) and turned into the
small AST of ``engine.feel.ast``, which the evaluators interpret. Errors carry the
character offset of the bad token. Full-width punctuation that Chinese input
methods produce (``，（）“”``) and the signs ``≥ ≤ ≠`` are accepted as their ASCII
forms.

DMN models (``engine.dmn.loader``) use the same parser in its FEEL dialect
(``Dialect.feel``): no punctuation folding inside the text, function invocation
``PMT(a, b)`` / ``f(p: a)``, and names that contain spaces or ``/ - ' + *``
(``Monthly Salary``) - FEEL resolves those against the names in scope, so the
caller passes them in (``KnownNames``). ``engine.feel.printer`` turns an AST back
into text that parses to the same AST.
"""

from __future__ import annotations

import datetime as dt
import re

from engine.errors import FeelSyntaxError, FeelTypeError, FeelValueError, Position
from engine.feel.ast import (
    BOOLEAN,
    DATE,
    NUMBER,
    STRING,
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
)
from engine.feel.lexer import EXCEL, KEYWORDS, Dialect, KnownNames, Token, normalize, tokenize

_COMPARATORS = ("<", "<=", ">", ">=", "=", "!=")
TYPE_WORDS = {
    NUMBER: "a number",
    STRING: 'a "string"',
    BOOLEAN: "true or false",
    DATE: 'a date like date("2026-01-31")',
    None: "a value",
}


# How deep a cell's expression may go. Brackets, not(…), calls and signs nest the
# parser (about ten Python frames a level); operators one after another make a
# tree as deep as they are many, which the evaluators and printers walk
# recursively. Far beyond anything a manager writes, well within Python's stack.
MAX_NESTING = 40
MAX_OPERATORS = 200


def _describe(tok: Token) -> str:
    return "the end of the cell" if tok.kind == "end" else f"'{_shown(tok.text)}'"


def _shown(text: str) -> str:
    """A token in a message: a 40,000-character string is not repeated whole."""
    return text if len(text) <= 40 else text[:40] + "…"


class _Parser:
    def __init__(self, text: str, expected: str | None, dialect: Dialect = EXCEL):
        self.text = text
        self.tokens = tokenize(text, dialect)
        self.pos = 0
        self.expected = expected  # declared type of the input column, for messages
        self.calls = dialect.calls
        self.nesting = 0
        self.operators = 0

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
        want = TYPE_WORDS[self.expected]
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
                f"expected {TYPE_WORDS[self.expected]} {context}, got {_describe(tok) if tok.kind != 'string' else _shown(tok.text)}",
                Position(offset=tok.offset),
            )
        return node

    def nest(self, step: int):
        """Enter (+1) or leave (-1) a nested expression; too deep is a syntax error."""
        self.nesting += step
        if self.nesting > MAX_NESTING:
            self.fail(f"expression nested too deeply (more than {MAX_NESTING} levels of brackets, not( or signs)")

    def operator(self, op: str, left, right) -> Binary:
        self.operators += 1
        if self.operators > MAX_OPERATORS:
            self.fail(
                f"expression nested too deeply (more than {MAX_OPERATORS} operators); split it over several cells"
            )
        return Binary(op, left, right)

    # expressions (precedence climbing, lowest first)
    def expression(self):
        self.nest(1)
        node = self.disjunction()
        self.nest(-1)
        return node

    def disjunction(self):
        node = self.conjunction()
        while self.at_word("or"):
            self.advance()
            node = self.operator("or", node, self.conjunction())
        return node

    def conjunction(self):
        node = self.comparison()
        while self.at_word("and"):
            self.advance()
            node = self.operator("and", node, self.comparison())
        return node

    def comparison(self):
        node = self.additive()
        if self.at_op(*_COMPARATORS):
            op = self.advance().text
            node = self.operator(op, node, self.additive())
        return node

    def additive(self):
        node = self.multiplicative()
        while self.at_op("+", "-"):
            op = self.advance().text
            node = self.operator(op, node, self.multiplicative())
        return node

    def multiplicative(self):
        node = self.power()
        while self.at_op("*", "/"):
            op = self.advance().text
            node = self.operator(op, node, self.power())
        return node

    def power(self):
        node = self.unary()
        while self.at_op("**"):  # left to right, as the DMN TCK expects
            self.advance()
            node = self.operator("**", node, self.unary())
        return node

    def unary(self):
        if self.at_op("-"):
            self.advance()
            self.nest(1)
            operand = self.unary()
            self.nest(-1)
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
            if word in KEYWORDS:
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
            raise FeelValueError(
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


# words of letters, digits, _ and ?, joined by single spaces or by one of . / - ' + * (DMN's name characters)
_NAME = re.compile(r"[^\W\d][\w?]*(?:(?: |[./\-'+*])[\w?]+)*")


def is_name(text: str) -> bool:
    """Can ``text`` name a variable, decision or output (``annual_revenue``,
    ``Monthly Salary``, ``Loan.amount``, ``Approved/Declined``, ``客户名称``)? Cells
    then refer to it as written (the rule-workbook reader knows the names in scope)."""
    if not _NAME.fullmatch(text) or text.lower() in KEYWORDS:
        return False
    try:
        node = parse_expression(text, Dialect(names=KnownNames([text])))
    except FeelSyntaxError:
        return False
    return isinstance(node, Name) and node.name == text
