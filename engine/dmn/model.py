"""A loaded DMN model: kade's ``RuleSet`` (every decision as a DecisionTable over
kade names) plus what DMN knows beyond it - input data and their types, how a
decision's value is assembled from table outputs (a value, a context of
components, a list), and the business knowledge models.

Names: kade keeps DMN names as they are (``Monthly Salary`` is a variable
name); a structured input becomes one variable per component path
(``Loan.amount``); a decision's outputs get names unique across the model -
the decision's own name for a single output, the component names for several
(``Status``, or ``Approval.Status`` if ``Status`` is taken)."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.dmn.types import FeelType
from engine.model import DecisionTable, RuleSet


@dataclass(frozen=True)
class DmnInput:
    name: str
    id: str
    type: FeelType | None
    paths: (
        tuple  # ((path below the input, kade variable name, FeelType of the value), ...); path () is the input itself
    )


@dataclass(frozen=True)
class DmnDecision:
    name: str
    id: str
    kind: str  # 'decisionTable' | 'literalExpression' | 'invocation'
    table: DecisionTable  # as evaluated (a one-rule table for a literal expression)
    type: FeelType | None  # the decision variable's type
    components: tuple = ()  # ((component name, kade output name), ...) when the value is a context
    output: str | None = None  # kade output name when the value is a single value (or list)
    output_types: tuple = ()  # declared FeelType (or None) of each table output, for conformance
    input_values: tuple = ()  # inputValues unary test (or None) of each table input
    output_values: tuple = ()  # outputValues unary test (or None) of each table output
    error: str | None = None  # known at load: the value is null with this error (date("2017-13-10"), not(0))

    @property
    def collects(self) -> bool:
        """Multi-hit table without aggregation: the value is a list."""
        return self.table.hit_policy in ("C", "R", "O")


@dataclass
class DmnModel:
    name: str
    namespace: str
    source: str
    version: str  # '1.1' ... '1.5'
    rules: RuleSet
    inputs: dict[str, DmnInput]
    decisions: dict[str, DmnDecision]
    functions: dict = field(default_factory=dict)  # BKM name -> BusinessKnowledgeModel
    kade_authored: bool = False  # written by kade's exporter (carries kade's extensions)
    notes: list = field(default_factory=list)  # what was read leniently (undeclared inputs)
