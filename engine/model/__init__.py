"""The rule model: decision tables, glossary, entities and the decision graph,
read from rule workbooks (``rulebook``) and shown as text (``show``)."""

from engine.model.definitions import (
    AGGREGATES,
    AGGREGATING,
    HIT_POLICIES,
    SINGLE_HIT,
    Aggregate,
    DecisionTable,
    Entity,
    InputClause,
    OutputClause,
    Rule,
    RuleSet,
    Variable,
)

__all__ = [
    "AGGREGATES",
    "AGGREGATING",
    "HIT_POLICIES",
    "SINGLE_HIT",
    "Aggregate",
    "DecisionTable",
    "Entity",
    "InputClause",
    "OutputClause",
    "Rule",
    "RuleSet",
    "Variable",
]
