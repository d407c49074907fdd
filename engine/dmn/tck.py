"""The DMN TCK runner: every ``*-test-*.xml`` under a directory is run against
the model it names (``<modelName>``, beside it), case by case.

A case passes when every result node matches its expected value:
- numbers as decimals (the expected text as written, the actual float by its
  shortest repr), equal within a relative 1e-12 - twelve significant digits;
  so ``1200``, ``1.2E3`` and ``1200.00`` are equal and ``0.1 + 0.2`` equals
  ``0.3``. The margin is needed both ways: kade computes in binary64 (about 16
  digits, a few lost when ``**`` amplifies rounding), and some TCK reference
  values are themselves exact only to 13 digits (0008 case 002 expects
  562.707359373292; the exact decimal result is 562.7073593732659...). The
  TCK's own Drools runner allows an absolute 1e-8;
- strings, booleans and dates exactly; null only equals null;
- lists item by item, structured results component by component;
- ``errorResult="true"`` nodes pass when the evaluation reports an error.

A model kade refuses (unsupported constructs) fails all of its cases with the
reason; unreadable input (no such directory, no test files, XML that is not
well-formed or declares entities) raises ``TckInputError``.

    report = run_tck("tests/data/dmn-tck/compliance-level-2")
    print(report.text())   # failing cases with expected vs actual, then 'N passed, M failed'
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from engine.dmn.errors import DmnXmlError
from engine.dmn.evaluate import evaluate_dmn
from engine.dmn.loader import load_dmn
from engine.dmn.xml import read_xml, split_tag
from engine.errors import KadeError, Position, RuleError
from engine.feel import feel_literal

XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
_NUMBER_TYPES = {
    "decimal",
    "double",
    "float",
    "int",
    "integer",
    "long",
    "short",
    "byte",
    "nonNegativeInteger",
    "positiveInteger",
    "negativeInteger",
    "nonPositiveInteger",
    "unsignedInt",
    "unsignedLong",
}
TOLERANCE = Decimal("1e-12")  # relative; see the module docstring


class TckInputError(KadeError):
    """The TCK directory or one of its files cannot be read at all (exit status 2)."""


@dataclass(frozen=True)
class TypedText:
    """A value of an XML Schema type kade does not evaluate (dateTime, time, duration...)."""

    type: str
    text: str

    def __str__(self) -> str:
        return f'{self.type}("{self.text}")'


@dataclass(frozen=True)
class NodeCheck:
    node: str
    expected: object  # parsed expected value; ERROR for errorResult nodes
    actual: object
    passed: bool
    error: str | None = None  # the evaluation's error for this decision, if any


ERROR = TypedText("error", "")  # expected of an errorResult node
MISSING = TypedText("missing", "")  # expected of a node naming a decision the model lacks


@dataclass(frozen=True)
class TckCaseResult:
    test_file: str  # relative to the TCK directory
    case_id: str
    description: str
    checks: tuple = ()
    problem: str | None = None  # why the case could not run (model refused, unsupported input...)

    @property
    def passed(self) -> bool:
        return self.problem is None and bool(self.checks) and all(c.passed for c in self.checks)


@dataclass
class TckReport:
    directory: str
    cases: list[TckCaseResult] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(1 for c in self.cases if c.passed)

    @property
    def failed(self) -> int:
        return len(self.cases) - self.passed

    def failures(self) -> list[TckCaseResult]:
        return [c for c in self.cases if not c.passed]

    def summary(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"

    def lines(self) -> list[str]:
        """One line per failing result node (expected vs actual), then the summary."""
        out = []
        for case in self.failures():
            where = f"{case.test_file} case {case.case_id}"
            if case.problem:
                out.append(f"FAILED {where}: {case.problem}")
                continue
            if not case.checks:
                out.append(f"FAILED {where}: the case has no result nodes")
            for check in case.checks:
                if check.passed:
                    continue
                if check.expected is MISSING:
                    out.append(f"FAILED {where} {check.node}: {check.error}")
                    continue
                expected = "an error" if check.expected is ERROR else show(check.expected)
                line = f"FAILED {where} {check.node}: expected {expected}, actual {show(check.actual)}"
                out.append(line + (f" (error: {check.error})" if check.error else ""))
        out.append(self.summary())
        return out

    def text(self) -> str:
        return "\n".join(self.lines())


def run_tck(directory: str | Path, *, loader=load_dmn, matcher=None) -> TckReport:
    """Run every test file under ``directory`` (see the module docstring).
    ``loader(path) -> DmnModel`` reads a model (tests pass one that goes
    through a rule workbook first); ``matcher`` chooses the evaluator that
    matches rows (default vectorized; see ``engine.evaluation.decisions.matcher_for``)."""
    root = Path(directory)
    if not root.is_dir():
        raise TckInputError("no such directory", Position(file=str(root)))
    test_files = sorted(root.rglob("*-test-*.xml"))
    if not test_files:
        raise TckInputError("no TCK test files (*-test-*.xml) in this directory", Position(file=str(root)))
    report = TckReport(str(root))
    models: dict[Path, object] = {}
    for test_file in test_files:
        report.cases.extend(_run_file(root, test_file, models, loader, matcher))
    return report


def _run_file(root: Path, test_file: Path, models: dict, loader, matcher=None) -> list[TckCaseResult]:
    relative = test_file.relative_to(root).as_posix()
    try:
        document = read_xml(test_file)
    except DmnXmlError as exc:
        raise TckInputError(exc.message, exc.position) from None
    if split_tag(document.tag)[1] != "testCases":
        raise TckInputError("not a TCK test file: the root element is not testCases", Position(file=str(test_file)))
    ns = split_tag(document.tag)[0]
    tag = (lambda local: f"{{{ns}}}{local}") if ns else (lambda local: local)
    model_name = (document.findtext(tag("modelName")) or "").strip()
    model_path = test_file.parent / model_name if model_name else _only_model(test_file)
    model, refused = _model(model_path, models, loader)
    results = []
    for case in document.findall(tag("testCase")):
        case_id = case.get("id", "?")
        description = (case.findtext(tag("description")) or "").strip()
        if refused:
            results.append(TckCaseResult(relative, case_id, description, problem=refused))
            continue
        results.append(_run_case(model, case, tag, relative, case_id, description, matcher))
    return results


def _only_model(test_file: Path) -> Path:
    models = sorted(test_file.parent.glob("*.dmn"))
    if len(models) != 1:
        raise TckInputError(
            "the test file names no modelName and its folder has not exactly one .dmn", Position(file=str(test_file))
        )
    return models[0]


def _model(path: Path, cache: dict, loader):
    """(model, None) or (None, why it was refused)."""
    if path not in cache:
        if not path.is_file():
            raise TckInputError(f"model {path.name} not found", Position(file=str(path)))
        try:
            cache[path] = (loader(path), None)
        except DmnXmlError as exc:
            raise TckInputError(exc.message, exc.position) from None
        except RuleError as exc:
            cache[path] = (None, f"model refused: {exc}")
    return cache[path]


def _run_case(model, case, tag, test_file: str, case_id: str, description: str, matcher=None) -> TckCaseResult:
    kind = case.get("type", "decision")
    if kind != "decision":
        return TckCaseResult(test_file, case_id, description, problem=f"test cases of type {kind} are not supported")
    inputs = {}
    for node in case.findall(tag("inputNode")):
        value = parse_value(node, tag)
        unsupported = _unsupported_in(value)
        if unsupported is not None:
            return TckCaseResult(
                test_file,
                case_id,
                description,
                problem=f"input {node.get('name')} is a {unsupported.type} value: kade does not evaluate that type",
            )
        inputs[" ".join(node.get("name", "").split())] = value
    try:
        evaluation = evaluate_dmn(model, inputs, matcher=matcher)
    except Exception as exc:  # report, never stop the run: one broken case must not hide the others
        return TckCaseResult(test_file, case_id, description, problem=f"evaluation failed: {type(exc).__name__}: {exc}")
    checks = []
    for node in case.findall(tag("resultNode")):
        name = " ".join(node.get("name", "").split())
        outcome = evaluation.decisions.get(name)
        if node.get("type", "decision") != "decision" or outcome is None:
            checks.append(NodeCheck(name, MISSING, None, False, f"the model has no decision named {name!r}"))
            continue
        if node.get("errorResult") == "true":
            checks.append(NodeCheck(name, ERROR, outcome.value, outcome.error is not None, outcome.error))
            continue
        expected_element = node.find(tag("expected"))
        expected = parse_value(expected_element, tag) if expected_element is not None else None
        checks.append(NodeCheck(name, expected, outcome.value, same(expected, outcome.value), outcome.error))
    return TckCaseResult(test_file, case_id, description, tuple(checks))


# ---------------------------------------------------------------- values ------


def parse_value(element, tag):
    """An inputNode / expected / component / item's value: a plain value, a dict
    of components, a list, or None."""
    value = element.find(tag("value"))
    if value is not None:
        return _typed(value)
    components = element.findall(tag("component"))
    if components:
        return {" ".join(c.get("name", "").split()): parse_value(c, tag) for c in components}
    items = element.find(tag("list"))
    if items is not None:
        if items.get(f"{XSI}nil") == "true":
            return None
        return [parse_value(item, tag) for item in items.findall(tag("item"))]
    return None


def _typed(value):
    if value.get(f"{XSI}nil") == "true":
        return None
    text = value.text or ""
    type_ = (value.get(f"{XSI}type") or "string").rpartition(":")[2]
    if type_ in _NUMBER_TYPES:
        try:
            return Decimal(text.strip())
        except InvalidOperation:
            return TypedText(type_, text)
    if type_ == "boolean":
        return text.strip() == "true"
    if type_ == "date":
        try:
            return dt.date.fromisoformat(text.strip())
        except ValueError:
            return TypedText(type_, text)
    if type_ == "string":
        return text
    return TypedText(type_, text.strip())


def _unsupported_in(value) -> TypedText | None:
    if isinstance(value, TypedText):
        return value
    if isinstance(value, list):
        return next((u for u in map(_unsupported_in, value) if u is not None), None)
    if isinstance(value, dict):
        return next((u for u in map(_unsupported_in, value.values()) if u is not None), None)
    return None


def same(expected, actual) -> bool:
    """Does an actual value match the TCK's expected one (see the module docstring)?"""
    if expected is None:
        return actual is None
    if isinstance(expected, bool):
        return isinstance(actual, bool) and actual == expected
    if isinstance(expected, Decimal):
        return (
            isinstance(actual, (int, float, Decimal)) and not isinstance(actual, bool) and same_number(expected, actual)
        )
    if isinstance(expected, str):
        return isinstance(actual, str) and actual == expected
    if isinstance(expected, dt.date):
        return isinstance(actual, dt.date) and not isinstance(actual, dt.datetime) and actual == expected
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(map(same, expected, actual))
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and set(actual) == set(expected)
            and all(same(v, actual[k]) for k, v in expected.items())
        )
    return False  # a TypedText: a type kade does not produce


def same_number(expected: Decimal, actual) -> bool:
    if not expected.is_finite():
        return False
    number = Decimal(repr(actual)) if isinstance(actual, float) else Decimal(actual)
    if not number.is_finite():
        return False
    if expected == 0:
        return abs(number) <= TOLERANCE
    return abs(expected - number) <= TOLERANCE * abs(expected)


def show(value) -> str:
    return str(value) if isinstance(value, TypedText) else feel_literal(value)
