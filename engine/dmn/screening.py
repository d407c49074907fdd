"""Reading the FEEL text of a DMN model, refusing what kade does not evaluate:
a text that builds time, date-and-time or duration values, or that fails to
parse because it uses full FEEL (``if``, ``for``, contexts, lists, built-in
functions...), is refused as unsupported with the element's id and offset,
never evaluated to a wrong answer; other syntax errors are errors of the model.

Text that is FEEL but can only give null with an error - a literal that is no
value (``date("2017-13-10")``), ``not()`` of a number or string - is not a
reason to refuse the model: the element's value is null with that error
(``value_errors``; the converter attaches them to the decision)."""

from __future__ import annotations

import re

from engine import feel
from engine.dmn.reader import DmnDocument
from engine.dmn.scopes import Resolver, Scope
from engine.errors import FeelSyntaxError, FeelTypeError, FeelValueError, RuleError

_STRINGS = re.compile(r'"(?:\\.|[^"\\])*"')
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)


def _bare(text: str) -> str:
    """The text with string contents and comments blanked (offsets kept), for looking for constructs."""
    text = _STRINGS.sub(lambda m: '"' + " " * (len(m.group()) - 2) + '"', text)
    return _COMMENTS.sub(lambda m: re.sub(r"\S", " ", m.group()), text)


_TEMPORAL = re.compile(
    r"\b(date\s+and\s+time|time|duration|years\s+and\s+months\s+duration|days\s+and\s+time\s+duration)\s*\("
)
_FULL_FEEL = [
    (re.compile(r"\bif\b"), "FEEL 'if … then … else' expressions"),
    (re.compile(r"\bfor\b"), "FEEL 'for … in … return' expressions"),
    (re.compile(r"\b(some|every)\b"), "FEEL quantified expressions (some / every … satisfies)"),
    (re.compile(r"\bbetween\b"), "FEEL 'between … and …'"),
    (re.compile(r"\binstance\s+of\b"), "FEEL 'instance of'"),
    (re.compile(r"\bfunction\b"), "FEEL function definitions"),
    (re.compile(r"\bin\b"), "FEEL 'in' tests"),
    (re.compile(r"\{"), "FEEL contexts ({…})"),
    (re.compile(r"@"), "FEEL @-literals"),
    (re.compile(r"[^\W\d]\w*(?:\s+\w+)+\s*\("), "FEEL's built-in functions"),
]


class FeelReader:
    """Parses, screens and resolves the FEEL texts of one model."""

    def __init__(self, doc: DmnDocument, resolver: Resolver):
        self.doc, self.resolver = doc, resolver
        self.value_errors: list[tuple[str | None, str]] = []  # (where, why) of texts giving null with an error

    def take_value_errors(self) -> list[tuple[str | None, str]]:
        taken, self.value_errors = self.value_errors, []
        return taken

    def expression(self, text: str, scope: Scope, where: str | None):
        """A FEEL expression over kade names; None after recording a problem."""
        if not self._refuse_temporal(text, scope, where):
            return None
        try:
            node = feel.parse_expression(text, scope.dialect())
        except FeelValueError as exc:
            self.value_errors.append((where, f"{' '.join(text.split())}: {exc.message}"))
            return feel.Literal(None, None, "null")
        except FeelSyntaxError as exc:
            self._syntax_problem(text, exc, where, unary=False)
            return None
        operand = _negated_non_boolean(node)
        if operand is not None:
            self.value_errors.append((where, f"not({feel.expression_text(operand)}): not() takes a boolean"))
        return self.resolver.resolve(node, scope, where)

    def unary_tests(self, text: str, scope: Scope, where: str | None):
        """FEEL unary tests over kade names; None after recording a problem."""
        if not self._refuse_temporal(text, scope, where):
            return None
        try:
            node = feel.parse_unary_tests(text, None, scope.dialect())
        except FeelValueError as exc:
            self.value_errors.append((where, f"{' '.join(text.split())}: {exc.message}"))
            return feel.AnyTest()
        except (FeelSyntaxError, FeelTypeError) as exc:
            self._syntax_problem(text, exc, where, unary=True)
            return None
        return self.resolver.resolve(node, scope, where)

    def _refuse_temporal(self, text: str, scope: Scope, where) -> bool:
        """False (after recording why) when the text builds time, date-and-time or duration values."""
        bare = _bare(text)
        temporal = _TEMPORAL.search(bare)
        if temporal and " ".join(temporal.group(1).split()) not in scope:
            self.doc.fail(
                f"{_shown(text)} uses FEEL's {' '.join(temporal.group(1).split())}() values: kade supports number, "
                "string, boolean and date values",
                where,
                temporal.start(),
                unsupported=True,
            )
            return False
        return True

    def _syntax_problem(self, text: str, exc: RuleError, where, unary: bool):
        bare = _bare(text)
        checks = list(_FULL_FEEL)
        checks.append(
            (re.compile(r"\?"), "FEEL unary-test expressions with '?'")
            if unary
            else (re.compile(r"\["), "FEEL lists and filters ([…])")
        )
        for pattern, what in checks:
            if pattern.search(bare):
                self.doc.fail(
                    f"{_shown(text)} uses {what}, which is beyond S-FEEL (DMN compliance level 2): not supported",
                    where,
                    exc.position.offset,
                    unsupported=True,
                )
                return
        self.doc.fail(f"{_shown(text)}: {exc.message}", where, exc.position.offset)


def _negated_non_boolean(node):
    """The operand of an expression ``not(x)`` whose x is a literal of another type
    than boolean (``not(0)``): its value is null, and FEEL calls that an error. (Inside
    a larger expression the null may not decide the value: ``not(0) or true`` is true.)"""
    if isinstance(node, feel.Unary) and node.op == "not":
        operand = node.operand
        if isinstance(operand, feel.Literal) and operand.type not in (None, feel.BOOLEAN):
            return operand
    return None


def _shown(text: str) -> str:
    """An expression quoted in a message, cut when long (a 100,000-term sum)."""
    text = text.strip()
    return repr(text) if len(text) <= 80 else repr(text[:80]) + "…"
