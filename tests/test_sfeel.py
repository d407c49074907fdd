"""S-FEEL unary tests and expressions: parsing, matching (with FEEL's
three-valued logic for null), error messages, arithmetic."""

import math

import pytest
from helpers import column, env

from engine import feel
from engine.errors import FeelSyntaxError, FeelTypeError
from engine.evaluation.vectorized import eval_expr
from engine.evaluation.vectorized import test_mask as mask_of

T, F = True, False


def matches(text, type_, values, **names):
    """Which of ``values`` the unary test ``text`` matches (names: other columns)."""
    test = feel.parse_unary_tests(text, type_)
    return mask_of(test, column(type_, values), env(**names)).tolist()


def evaluate(text, n=1, **names):
    col = eval_expr(feel.parse_expression(text), env(**names), n)
    return [None if math.isnan(v) else v for v in col.values.tolist()] if col.is_float else col.values.tolist()


# ------------------------------------------------------------- number forms ----

NUMS = [4, 5, 7, 10, 11, None]  # below, low end, inside, high end, above, null

NUMBER_CASES = [
    ("-", [T, T, T, T, T, T]),
    ("", [T, T, T, T, T, T]),
    ("5", [F, T, F, F, F, F]),
    ("= 5", [F, T, F, F, F, F]),
    ("!= 5", [T, F, T, T, T, T]),  # null != 5 is true in FEEL (null equals only null)
    ("< 5", [T, F, F, F, F, F]),
    ("<= 5", [T, T, F, F, F, F]),
    ("> 10", [F, F, F, F, T, F]),
    (">= 10", [F, F, F, T, T, F]),
    ("[5..10]", [F, T, T, T, F, F]),
    ("(5..10)", [F, F, T, F, F, F]),
    ("]5..10[", [F, F, T, F, F, F]),
    ("[5..10)", [F, T, T, F, F, F]),
    ("[5..10[", [F, T, T, F, F, F]),
    ("(5..10]", [F, F, T, T, F, F]),
    ("]5..10]", [F, F, T, T, F, F]),
    ("4, 10", [T, F, F, T, F, F]),
    ("< 5, > 10", [T, F, F, F, T, F]),
    ("[4..5], 11", [T, T, F, F, T, F]),
    ("not(5)", [T, F, T, T, T, T]),  # null = 5 is false, so not(...) is true
    ("not(4, 10)", [F, T, T, F, T, T]),
    ("not([5..10])", [T, F, F, F, T, F]),  # null in range is null: not(null) is null
    ("not(< 5)", [F, T, T, T, T, F]),
    ("null", [F, F, F, F, F, T]),
    ("not(null)", [T, T, T, T, T, F]),
    ("null, 7", [F, F, T, F, F, T]),
    ("not(null, 7)", [T, T, F, T, T, F]),
    ("≥ 10", [F, F, F, T, T, F]),
    ("≤ 5", [T, T, F, F, F, F]),
    ("≠ 5", [T, F, T, T, T, T]),
    ("（5..10）", [F, F, T, F, F, F]),
    ("【5..10】", [F, T, T, T, F, F]),
]


@pytest.mark.parametrize("text,expected", NUMBER_CASES, ids=[c[0] or "empty" for c in NUMBER_CASES])
def test_number_unary_tests(text, expected):
    assert matches(text, "number", NUMS) == expected


def test_negative_and_decimal_literals():
    xs = [-6, -5, -3, -1, 0.5, 2.5]
    assert matches("< -3", "number", xs) == [T, T, F, F, F, F]
    assert matches("[-5..-1]", "number", xs) == [F, T, T, T, F, F]
    assert matches("-5", "number", xs) == [F, T, F, F, F, F]
    assert matches(".5, 2.5", "number", xs) == [F, F, F, F, T, T]


def test_range_ast_records_open_and_closed_ends():
    r = feel.parse_unary_tests("]1..5]", "number")
    assert (r.low.value, r.high.value, r.low_closed, r.high_closed) == (1.0, 5.0, False, True)
    assert feel.parse_unary_tests("≥ 10") == feel.parse_unary_tests(">= 10")
    assert feel.parse_unary_tests("-") == feel.AnyTest()
    assert feel.parse_unary_tests("null") == feel.NullTest()


# --------------------------------------------------- null against every form ---

NULL_ROW = {  # does the test match a null input? (DMN 1.5 FEEL semantics)
    "-": T,
    "null": T,
    "= null": T,
    "not(null)": F,
    "!= null": F,
    "5": F,
    "< 5": F,
    "<= 5": F,
    "> 5": F,
    ">= 5": F,
    "[1..5]": F,
    "(1..5)": F,
    "[1..5)": F,
    "]1..5]": F,
    "1, 5": F,
    "< 1, > 5": F,
    "null, 5": T,
    "not(<5)": F,
    "not([1..5])": F,
    "not(< 1, > 5)": F,
    "not(null, 5)": F,
    "not(5)": T,
    "!= 5": T,
}


@pytest.mark.parametrize("text", list(NULL_ROW))
def test_null_number_input(text):
    assert matches(text, "number", [None, 3])[0] is NULL_ROW[text]


@pytest.mark.parametrize(
    "type_,tests",
    [
        ("string", {'"a"': F, '< "b"': F, '["a".."c"]': F, 'not("a")': T, "null": T, "not(null)": F, "-": T}),
        ("boolean", {"true": F, "false": F, "not(true)": T, "null": T, "not(null)": F, "-": T}),
        (
            "date",
            {
                'date("2026-01-31")': F,
                '< date("2026-01-31")': F,
                '[date("2026-01-01")..date("2026-12-31")]': F,
                'not(> date("2026-01-31"))': F,
                "null": T,
                "not(null)": F,
                "-": T,
            },
        ),
    ],
)
def test_null_input_of_other_types(type_, tests):
    for text, expected in tests.items():
        assert matches(text, type_, [None]) == [expected], text


# ----------------------------------------------------------- strings ---------

STRS = ["a,b", 'say "hi"', "金融", "政府", "其他", None]


@pytest.mark.parametrize(
    "text,expected",
    [
        ('"a,b"', [T, F, F, F, F, F]),  # one string with a comma, not two alternatives
        ('"a", "b"', [F, F, F, F, F, F]),
        (r'"say \"hi\""', [F, T, F, F, F, F]),
        ("“金融”，“政府”", [F, F, T, T, F, F]),
        ('"金融","政府"', [F, F, T, T, F, F]),
        ('not("金融")', [T, T, F, T, T, T]),
        ('not("金融", "政府", null)', [T, T, F, F, T, F]),
        ('< "b"', [T, F, F, F, F, F]),
    ],
)
def test_string_unary_tests(text, expected):
    assert matches(text, "string", STRS) == expected


def test_string_literal_values_after_unescaping():
    assert feel.parse_unary_tests(r'"say \"hi\""', "string").endpoint.value == 'say "hi"'
    lits = [t.endpoint.value for t in feel.parse_unary_tests("“金融”，“政府”", "string").tests]
    assert lits == ["金融", "政府"]


# -------------------------------------------------------- booleans, dates ----


@pytest.mark.parametrize(
    "text,expected",
    [
        ("true", [T, F, F]),
        ("false", [F, T, F]),
        ("not(true)", [F, T, T]),
        ("true, false", [T, T, F]),
    ],
)
def test_boolean_unary_tests(text, expected):
    assert matches(text, "boolean", [True, False, None]) == expected


DATES = ["2025-12-31", "2026-01-01", "2026-01-31", "2026-02-01", None]


@pytest.mark.parametrize(
    "text,expected",
    [
        ('date("2026-01-31")', [F, F, T, F, F]),
        ('< date("2026-01-31")', [T, T, F, F, F]),
        ('>= date("2026-01-31")', [F, F, T, T, F]),
        ('[date("2026-01-01")..date("2026-01-31")]', [F, T, T, F, F]),
        ('(date("2026-01-01")..date("2026-01-31"))', [F, F, F, F, F]),
        ('[date("2026-01-01")..date("2026-01-31"))', [F, T, F, F, F]),
        ('not(date("2026-01-31"))', [T, T, F, T, T]),
    ],
)
def test_date_unary_tests(text, expected):
    assert matches(text, "date", DATES) == expected


# ---------------------------------------------------- names as endpoints -----


def test_names_as_endpoints_compare_two_columns():
    xs = [1, 5, 10, None, 3]
    limit = [5, 5, None, 5, None]
    assert matches("< limit", "number", xs, limit=limit) == [T, F, F, F, F]
    assert matches("<= limit", "number", xs, limit=limit) == [T, T, F, F, F]
    assert matches("limit", "number", xs, limit=limit) == [F, T, F, F, F]
    assert matches("not(< limit)", "number", xs, limit=limit) == [F, T, F, F, F]  # null limit: unknown
    assert matches("(0..limit]", "number", xs, limit=limit) == [T, T, F, F, F]
    assert matches("[limit..10]", "number", xs, limit=limit) == [F, T, F, F, F]
    assert isinstance(feel.parse_unary_tests("< limit", "number").endpoint, feel.Name)


def test_name_endpoint_on_string_column():
    assert matches("home", "string", ["a", "b", None], home=["a", "c", None]) == [T, F, T]  # null = null


# ------------------------------------------------------------- errors --------


def error_of(text, type_=None, parse=feel.parse_unary_tests):
    with pytest.raises((FeelSyntaxError, FeelTypeError)) as info:
        parse(text, type_) if type_ else parse(text)
    return info.value


def test_number_glued_to_letters():
    err = error_of(">= 1o0", "number")
    assert type(err) is FeelSyntaxError
    assert err.message == "expected a number after '>=', got '1o0'"
    assert err.position.offset == 3


def test_error_offset_counts_characters_of_the_cell_as_written():
    # Position.offset is "the column offset inside the cell text": '1o0' starts at 2 in "≥ 1o0".
    err = error_of("≥ 1o0", "number")
    assert err.message == "expected a number after '>=', got '1o0'"
    assert err.position.offset == 2


@pytest.mark.parametrize("text", ["1,000", "2,500", "1,000,000"])
def test_thousands_separator_refused(text):
    err = error_of(text, "number")
    assert type(err) is FeelSyntaxError
    assert "thousands separator" in err.message
    assert err.position.offset == 1


def test_comma_lists_that_are_not_thousands_are_fine():
    assert matches("1,5", "number", [1, 5, 15]) == [T, T, F]
    assert matches("1,50", "number", [1, 50, 150]) == [T, T, F]


@pytest.mark.parametrize(
    "text,type_,message,offset",
    [
        ('"abc', "string", "string starting at character 1 has no closing quote", 0),
        ('"金融", "政府', "string", "string starting at character 7 has no closing quote", 6),
        ("[1..5", "number", "expected ']', ')' or '[' to close the range, got the end of the cell", 5),
        ("[1..", "number", "expected a number after '..', got the end of the cell", 4),
        ("[1 5]", "number", "expected '..' between the two ends of the range, got '5'", 3),
        ("not(1", "number", "expected ')' to close not(, got the end of the cell", 5),
        ("5 6", "number", "unexpected '6' (a comma separates alternatives)", 2),
        ('date("2026-02-30")', "date", '"2026-02-30" is not a date of the form "yyyy-mm-dd"', 5),
        ('date("31/01/2026")', "date", '"31/01/2026" is not a date of the form "yyyy-mm-dd"', 5),
        ("date(2026)", "date", "expected a \"yyyy-mm-dd\" string inside date(, got '2026'", 5),
    ],
)
def test_syntax_errors(text, type_, message, offset):
    err = error_of(text, type_)
    assert isinstance(err, FeelSyntaxError)  # FeelValueError for a literal that is no date: a syntax error in a cell
    assert (err.message, err.position.offset) == (message, offset)


@pytest.mark.parametrize(
    "text,type_,message,offset",
    [
        ('>= "abc"', "number", "expected a number after '>=', got \"abc\"", 3),
        ("5", "string", "expected a \"string\" here, got '5'", 0),
        ('"yes"', "boolean", 'expected true or false here, got "yes"', 0),
        ("< 5", "date", "expected a date like date(\"2026-01-31\") after '<', got '5'", 2),
    ],
)
def test_type_errors(text, type_, message, offset):
    err = error_of(text, type_)
    assert type(err) is FeelTypeError
    assert (err.message, err.position.offset) == (message, offset)


@pytest.mark.parametrize(
    "text,message,offset",
    [
        ("1 +", "expected a value, got the end of the cell", 3),
        ("(1 + 2", "expected ')' to close '(', got the end of the cell", 6),
        ("x * * 2", "expected a value, got '*'", 4),
        ("", "expected a value, got an empty cell", 0),
    ],
)
def test_expression_syntax_errors(text, message, offset):
    err = error_of(text, parse=feel.parse_expression)
    assert (err.message, err.position.offset) == (message, offset)


# -------------------------------------------------------- expressions --------


def test_computed_price():
    assert evaluate("standard_price * 1.2", 3, standard_price=[100, None, 2.5]) == pytest.approx([120.0, None, 3.0])


@pytest.mark.parametrize(
    "text,value",
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),
        ("12 / 4 / 3", 1),
        ("2 * 3 ** 2", 18),
        ("2 ** 3 * 2", 16),
        ("2 ** -1", 0.5),
        ("(2 ** 3) ** 2", 64),
        ("-2 ** 2", 4),  # DMN TCK 0075: -a**b parses as (-a)**b
        ("- - 3", 3),
        ("1 - -1", 2),
        ("2 ** 3 ** 2", 64),  # DMN TCK 0075: ** is left associative, (2**3)**2
    ],
)
def test_arithmetic_precedence(text, value):
    assert evaluate(text) == [value]


def test_unary_minus_and_power_on_columns():
    assert evaluate("-a", 3, a=[2, None, -1.5]) == [-2, None, 1.5]
    assert evaluate("-a ** 2", 3, a=[2, None, -3]) == [4, None, 9]


def test_division_by_zero_and_null_arithmetic_give_null():
    assert evaluate("p / 0", 2, p=[1, None]) == [None, None]
    assert evaluate("p / q", 3, p=[10, 10, None], q=[4, 0, 2]) == [2.5, None, None]
    assert evaluate("p + null", 1, p=[1]) == [None]
    assert evaluate('p + "x"', 1, p=[1]) == [None]  # type mismatch is null, not an exception


def test_comparison_and_logic_are_three_valued():
    b = eval_expr(feel.parse_expression("p > 50"), env(p=[100, None, 2]), 3)
    assert b.type == "boolean" and [None if math.isnan(v) else v for v in b.values] == [1.0, None, 0.0]
    got = eval_expr(feel.parse_expression("p > 50 or p < 5"), env(p=[100, None, 10]), 3).values
    assert got[0] == 1.0 and math.isnan(got[1]) and got[2] == 0.0


def test_string_and_date_expressions():
    assert evaluate('"a" + "b"') == ["ab"]
    assert evaluate('date("2026-01-31") - date("2026-01-01")') == [30]
