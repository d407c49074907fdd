"""A DMN model as the rules kade evaluates over a register (``engine.load_rules``
of a .dmn, ``kade evaluate data.xlsx --rules model.dmn``) or writes as rule
workbooks: business knowledge models written inline, and, for a model without
kade's entities, one entity ``rows`` that every input and decision belongs to,
read from whichever sheet has the model's input columns."""

from __future__ import annotations

import dataclasses

from engine import feel
from engine.dmn.errors import UnsupportedDmnError
from engine.dmn.model import DmnModel
from engine.io.registers import ANY_SHEET
from engine.model import DecisionTable, Entity, RuleSet

ROWS = "rows"


def evaluable_rules(model: DmnModel) -> RuleSet:
    """``model``'s rules as a rule workbook would hold them (see the module docstring)."""
    rules = inline_functions(model)
    if rules.entities:
        return rules
    variables = {n: v if v.entity else dataclasses.replace(v, entity=ROWS) for n, v in rules.variables.items()}
    tables = [t if t.entity else dataclasses.replace(t, entity=ROWS) for t in rules.decisions]
    return RuleSet(variables, {ROWS: Entity(ROWS, (ANY_SHEET,), "")}, tables, rules.sources)


def inline_functions(model: DmnModel) -> RuleSet:
    """The model's tables with every BKM invocation replaced by the BKM's body
    (``PMT(a, b)`` becomes PMT's body with ``a`` and ``b`` in place of its parameters).
    A BKM whose body is a decision table cannot be written so: refused."""
    if not model.functions:
        return model.rules

    def inline(node):
        if isinstance(node, feel.Call):
            bkm = model.functions[node.function.name]
            if isinstance(bkm.body, DecisionTable):
                raise UnsupportedDmnError(
                    f"business knowledge model {bkm.name!r} has a decision table as its body: "
                    "a rule workbook cannot hold it (only literal-expression BKMs are written inline)",
                    bkm.body.position,
                )
            args = {p: inline(a) for (p, _), a in zip(bkm.parameters, node.args)}
            return inline(feel.map_names(bkm.body, lambda n: args.get(n, n)))
        if isinstance(node, (feel.Literal, feel.Name)) or not dataclasses.is_dataclass(node):
            return node
        return feel.map_children(node, inline)

    tables = [
        dataclasses.replace(
            t,
            inputs=tuple(dataclasses.replace(c, expr=inline(c.expr)) for c in t.inputs),
            outputs=tuple(
                dataclasses.replace(o, default=inline(o.default) if o.default is not None else None) for o in t.outputs
            ),
            rules=tuple(
                dataclasses.replace(r, inputs=tuple(map(inline, r.inputs)), outputs=tuple(map(inline, r.outputs)))
                for r in t.rules
            ),
        )
        for t in model.rules.decisions
    ]
    return RuleSet(model.rules.variables, model.rules.entities, tables, model.rules.sources)
