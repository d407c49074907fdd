"""The rule model: what a rule workbook (or a .dmn file) means, independent of
where it came from. Built by ``engine.model.rulebook``; read by the evaluators."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.errors import Position

# Hit policy -> (single hit?, aggregator). DMN 1.5, 8.2.11.
HIT_POLICIES = {
    "U": "UNIQUE",
    "A": "ANY",
    "P": "PRIORITY",
    "F": "FIRST",
    "R": "RULE ORDER",
    "O": "OUTPUT ORDER",
    "C": "COLLECT",
    "C+": "COLLECT SUM",
    "C<": "COLLECT MIN",
    "C>": "COLLECT MAX",
    "C#": "COLLECT COUNT",
}
SINGLE_HIT = {"U", "A", "P", "F"}
AGGREGATING = {"C+", "C<", "C>", "C#"}


@dataclass(frozen=True)
class Variable:
    """A glossary entry: a name rules use, where its value lives, and its type."""

    name: str
    entity: str | None
    headers: tuple[str, ...]  # column headers that hold it in a data sheet
    type: str | None  # number | string | boolean | date; None: untyped (an implicit input of a DMN model)
    allowed: Any = None  # S-FEEL unary test, or None
    allowed_values: tuple = ()  # the literal values of `allowed`, in order (priority order)
    label: str = ""
    description: str = ""
    position: Position = field(default_factory=Position, compare=False)
    records: str | None = None  # a register column that records a decision output people took (kade check)
    compare: str | None = (
        None  # how kade check compares it: 'at least' | 'at most' | 'equal' (None: from the hit policy)
    )
    required: bool = False  # an empty register cell is a row error, not a value no rule tests
    computed: Aggregate | None = None  # not read from the register: computed from a table's rules
    value: Any = None  # the computed value (set when the rule set is built)

    @property
    def display(self) -> str:
        return self.label or self.name.replace("_", " ")


AGGREGATES = ("average", "sum", "min", "max", "count")


@dataclass(frozen=True)
class Aggregate:
    """A glossary value computed once per rule set, not per row: ``function`` of
    the decision output ``output`` over the rules of the lookup table ``over``
    (each rule read as one row: its input cells are the row's values).
    ``average of industry_total over industry_attractiveness``."""

    function: str  # one of AGGREGATES
    output: str
    over: str
    position: Position = field(default_factory=Position, compare=False)

    @property
    def text(self) -> str:
        return f"{self.function} of {self.output} over {self.over}"


@dataclass(frozen=True)
class Entity:
    """A kind of row (clients, contracts...): the data sheet it is read from and
    how it links to its parent (contracts -> clients by client_id)."""

    name: str
    sheets: tuple[str, ...]
    key: str
    parent: str | None = None
    link: tuple[str, ...] | None = None  # headers, any one of which holds the parent's key
    position: Position = field(default_factory=Position, compare=False)


@dataclass(frozen=True)
class InputClause:
    label: str  # the header as written
    expr: Any  # S-FEEL expression AST; usually a Name
    type: str | None
    position: Position = field(default_factory=Position, compare=False)


@dataclass(frozen=True)
class OutputClause:
    name: str
    type: str | None
    allowed_values: tuple = ()  # priority order for P / O
    default: Any = None  # expression AST used when no rule matches
    position: Position = field(default_factory=Position, compare=False)


@dataclass(frozen=True)
class Rule:
    id: str
    inputs: tuple  # one unary-test AST per input clause
    outputs: tuple  # one expression AST per output clause
    annotation: str = ""
    position: Position = field(default_factory=Position, compare=False)  # the rule-id cell
    cells: tuple = field(default=(), compare=False)  # positions of input then output cells


@dataclass(frozen=True)
class DecisionTable:
    name: str
    entity: str | None
    hit_policy: str  # a key of HIT_POLICIES
    inputs: tuple[InputClause, ...]
    outputs: tuple[OutputClause, ...]
    rules: tuple[Rule, ...]
    title: str = ""
    position: Position = field(default_factory=Position, compare=False)  # file + sheet

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.outputs)

    @property
    def has_default(self) -> bool:
        return any(o.default is not None for o in self.outputs)


@dataclass
class RuleSet:
    """Everything loaded from a rules folder: glossary, entities and decisions in
    evaluation order (dependencies first)."""

    variables: dict[str, Variable]
    entities: dict[str, Entity]
    decisions: list[DecisionTable]
    sources: list[str] = field(default_factory=list)  # files read

    def decision(self, name: str) -> DecisionTable:
        for table in self.decisions:
            if table.name == name:
                return table
        raise KeyError(name)

    def producer(self, output: str) -> DecisionTable | None:
        """The decision whose output is called ``output``."""
        for table in self.decisions:
            if output in table.output_names:
                return table
        return None
