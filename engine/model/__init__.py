"""The rule model: decision tables, glossary, entities and the decision graph,
read from rule workbooks (``rulebook``) and shown as text (``show``)."""

from engine.model.definitions import (
    AGGREGATING,
    HIT_POLICIES,
    SINGLE_HIT,
    DecisionTable,
    Entity,
    InputClause,
    OutputClause,
    Rule,
    RuleSet,
    Variable,
)

__all__ = [
    "AGGREGATING",
    "HIT_POLICIES",
    "SINGLE_HIT",
    "DecisionTable",
    "Entity",
    "InputClause",
    "OutputClause",
    "Rule",
    "RuleSet",
    "Variable",
]
