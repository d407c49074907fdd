"""S-FEEL's FEEL dialect (what .dmn files contain) and AST -> text: names with
spaces, invocations, FEEL string escapes, and text that parses back to the
same AST - without changing how rule-workbook cells read."""

import datetime as dt
import math

import pytest
from helpers import column, env
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import feel
from engine.errors import FeelSyntaxError
from engine.evaluation.columns import Column
from engine.evaluation.vectorized import eval_expr
from engine.evaluation.vectorized import test_mask as mask_of

FEEL = feel.Dialect.feel


def test_names_with_spaces_and_special_characters_are_read_when_known():
    dialect = FEEL(["Monthly Salary", "Approved/Declined", "Applicant Data.Monthly Income"])
    assert feel.parse_expression("12 * Monthly Salary", dialect) == feel.Binary(
        "*", feel.Literal(12.0, "number"), feel.Name("Monthly Salary")
    )
    assert feel.parse_expression("Approved/Declined", dialect) == feel.Name("Approved/Declined")
    # the longest known name wins; a path continues a known name
    assert feel.parse_expression("Applicant Data.Monthly Income / 2", dialect).left == feel.Name(
        "Applicant Data.Monthly Income"
    )
    assert feel.parse_expression("Monthly   Salary", dialect) == feel.Name("Monthly Salary")  # any whitespace inside
    # unknown multi-word text is still an error, and a known name is not matched inside a longer word
    with pytest.raises(FeelSyntaxError):
        feel.parse_expression("Monthly Salaryx + 1", dialect)


def test_qualified_names_are_one_name():
    assert feel.parse_expression("(loan.principal*loan.rate/12)", FEEL()) == feel.Binary(
        "/", feel.Binary("*", feel.Name("loan.principal"), feel.Name("loan.rate")), feel.Literal(12.0, "number")
    )


def test_invocations_positional_and_named():
    call = feel.parse_expression("PMT(Loan.amount, 0.5, -n) + fee", FEEL())
    assert call.left == feel.Call(
        feel.Name("PMT"), (feel.Name("Loan.amount"), feel.Literal(0.5, "number"), feel.Unary("-", feel.Name("n")))
    )
    named = feel.parse_expression("f(a: 1, b: x)", FEEL())
    assert named.arg_names == ("a", "b") and named.args[1] == feel.Name("x")
    assert feel.parse_expression("f()", FEEL()) == feel.Call(feel.Name("f"), ())
    with pytest.raises(FeelSyntaxError):
        feel.parse_expression("f(a: 1, 2)", FEEL())


def test_rule_workbook_cells_read_as_before():
    # no calls, full-width punctuation folded, no FEEL escapes
    with pytest.raises(FeelSyntaxError):
        feel.parse_expression("PMT(1, 2)")
    assert feel.parse_unary_tests("“金融”，“政府”", "string") == feel.parse_unary_tests('"金融","政府"', "string")
    assert feel.parse_expression(r'"\u0041"').value == "u0041"
    # in the FEEL dialect the text is literal: a full-width comma inside a string stays
    assert feel.parse_expression('"你好，世界"', FEEL()).value == "你好，世界"
    assert feel.parse_expression(r'"\u0041\r"', FEEL()).value == "A\r"


def test_power_binds_tighter_than_the_operators_around_it_and_reads_left_to_right():
    assert eval_expr(feel.parse_expression("5+2**5+3", FEEL()), {}, 1).values[0] == 40
    assert eval_expr(feel.parse_expression("10**-5", FEEL()), {}, 1).values[0] == pytest.approx(1e-5)
    assert eval_expr(feel.parse_expression("2**3**2", FEEL()), {}, 1).values[0] == 64  # (2**3)**2, as the TCK expects


class Doubler:
    """A stand-in for a business knowledge model: anything with invoke()."""

    def invoke(self, args, n):
        return Column("number", args[0].values * 2)

    def take(self, rows):
        return self


def test_invocation_evaluates_through_the_environment():
    e = {"double": Doubler(), **env(x=[1, None, 3])}
    out = eval_expr(feel.parse_expression("double(x) + 1", FEEL()), e, 3).values
    assert out[0] == 3 and math.isnan(out[1]) and out[2] == 7
    assert feel.names_in(feel.parse_expression("double(x)", FEEL())) == {"double", "x"}


def test_null_equals_only_null_whatever_the_other_side():
    # FEEL: values of different kinds compare as null, but null = x is false and null != x true
    strings = column("string", ["a", None])
    assert mask_of(feel.parse_unary_tests("not(5)"), strings, {}).tolist() == [False, True]
    assert mask_of(feel.parse_unary_tests("5"), strings, {}).tolist() == [False, False]
    numbers = column("number", [1, None])
    other = env(s=["a", None])
    assert mask_of(feel.parse_unary_tests("not(s)"), numbers, other).tolist() == [False, False]
    assert mask_of(feel.parse_unary_tests("!= s"), column("number", [None, 2]), env(s=["a", "b"])).tolist() == [
        True,
        False,
    ]


# ------------------------------------------------------------ AST -> text ----

EXPRESSIONS = [
    "a - (b - c)",
    "(a - b) - c",
    "a ** b ** c",
    "a ** (b ** c)",
    "-2 ** 2",
    "-(2 ** 2)",
    "-(a + b) * c",
    "a / (b * c)",
    "a and (b or c)",
    "(a or b) and c",
    "not(a = b)",
    "(a < b) = c",
    '"say \\"hi\\"\\n" + s',
    'date("2026-01-31") - d',
    "1.5e0",
    "0.00001 * x",
    "f(a, g(b: 1))",
    "x = null",
    "-.872",
]


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_expression_text_parses_back_to_the_same_ast(text):
    text = text.replace("1.5e0", "1.5")
    node = feel.parse_expression(text, FEEL())
    again = feel.parse_expression(feel.expression_text(node), FEEL())
    assert again == node


UNARY = [
    "-",
    "null",
    "5",
    "< -3",
    '>= date("2026-01-31")',
    "[1..5)",
    "(1..5]",
    '"a", "b"',
    'not("a", null)',
    "< x",
    "= (x + 1)",
    "> (not(a))",
    "[-5..-1]",
    "-5, 2.5",
]


@pytest.mark.parametrize("text", UNARY)
def test_unary_tests_text_parses_back_to_the_same_ast(text):
    node = feel.parse_unary_tests(text, None, FEEL())
    assert feel.parse_unary_tests(feel.unary_tests_text(node), None, FEEL()) == node
    assert feel.parse_unary_tests(feel.unary_tests_text(node)) == feel.parse_unary_tests(text)  # and as a cell


def test_numbers_are_written_without_exponents():
    assert feel.literal_text(feel.Literal(1e20, "number")) == "100000000000000000000"
    assert feel.literal_text(feel.Literal(1e-7, "number")) == "0.0000001"
    assert feel.literal_text(feel.Literal(-0.5, "number")) == "-0.5"
    assert feel.literal_text(feel.Literal(dt.date(2026, 1, 31), "date")) == 'date("2026-01-31")'


names = st.sampled_from(["a", "b", "x1", "Loan.amount"])
leaves = st.one_of(
    names.map(feel.Name),
    st.integers(-1000, 1000).map(lambda i: feel.Literal(float(i), "number")),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: feel.Literal(float(repr(f)) if f != 0 else 0.0, "number")),
    st.text(max_size=5).map(lambda s: feel.Literal(s, "string")),
    st.booleans().map(lambda b: feel.Literal(b, "boolean")),
    st.just(feel.Literal(None, None)),
)
OPS = ["+", "-", "*", "/", "**", "=", "!=", "<", "<=", ">", ">=", "and", "or"]


def _trees(children):
    return st.one_of(
        st.tuples(st.sampled_from(OPS), children, children).map(lambda t: feel.Binary(*t)),
        children.filter(lambda c: not (isinstance(c, feel.Literal) and c.type == "number")).map(
            lambda c: feel.Unary("-", c)
        ),
        children.map(lambda c: feel.Unary("not", c)),
        st.lists(children, max_size=3).map(lambda args: feel.Call(feel.Name("f"), tuple(args))),
    )


@settings(max_examples=300, deadline=None)
@given(st.recursive(leaves, _trees, max_leaves=12))
def test_any_expression_survives_text(node):
    """Whatever the AST, its text parses back to it (parentheses exactly where needed)."""
    text = feel.expression_text(node)
    parsed = feel.parse_expression(text, FEEL())
    assert feel.expression_text(parsed) == text
    assert parsed == _fold_negative_literals(node)


def _fold_negative_literals(node):
    """The parser reads '-5' as the literal -5 and '--5' as 5: compare like with like."""
    if isinstance(node, feel.Unary) and node.op == "-":
        inner = _fold_negative_literals(node.operand)
        if isinstance(inner, feel.Literal) and inner.type == "number":
            return feel.Literal(-inner.value, "number")
        return feel.Unary("-", inner)
    if isinstance(node, feel.Unary):
        return feel.Unary(node.op, _fold_negative_literals(node.operand))
    if isinstance(node, feel.Binary):
        return feel.Binary(node.op, _fold_negative_literals(node.left), _fold_negative_literals(node.right))
    if isinstance(node, feel.Call):
        return feel.Call(node.function, tuple(map(_fold_negative_literals, node.args)))
    return node


# ------------------------------------------------ FEEL details (issue 19) ----


def test_numbers_with_exponents():
    for dialect in (feel.EXCEL, FEEL()):
        assert feel.parse_expression("1.23e4", dialect) == feel.Literal(12300.0, "number", "1.23e4")
        assert feel.parse_expression("2E-3 * 1000", dialect).left.value == 0.002
    with pytest.raises(FeelSyntaxError, match="got '1e'"):
        feel.parse_expression("1e + 2")  # an exponent needs its digits


def test_comments_in_dmn_text_but_not_in_workbook_cells():
    assert feel.parse_expression("1 + /* 1 + */ 1", FEEL()) == feel.parse_expression("1 + 1", FEEL())
    assert feel.parse_expression("1 + // to the end of the line\n 2", FEEL()).right.value == 2.0
    with pytest.raises(FeelSyntaxError, match="no closing"):
        feel.parse_expression("1 /* open", FEEL())
    with pytest.raises(FeelSyntaxError):
        feel.parse_expression("1 // not a comment in a cell")


@pytest.mark.parametrize("dialect", [feel.EXCEL, FEEL()], ids=["workbook", "dmn"])
def test_ranges_with_outward_brackets_are_open(dialect):
    assert feel.parse_unary_tests("]1..10]", None, dialect) == feel.Range(
        feel.Literal(1.0, "number", "1"), feel.Literal(10.0, "number", "10"), False, True
    )
    values = column("number", [1.0, 5.0, 10.0])
    assert list(mask_of(feel.parse_unary_tests("]1..10[", None, dialect), values, {})) == [False, True, False]
