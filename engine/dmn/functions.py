"""Business knowledge models: DMN's functions. A BKM is invoked from FEEL
(``PMT(Loan.amount, Loan.rate, Loan.term)``) or by a boxed invocation; the
evaluator finds it in the environment under its name and calls ``invoke``.

Arguments are columns, so an invocation is as vectorized as the expression
around it. As DMN 1.5 says, an argument that does not conform to its
parameter's type is null, and so is a result that does not conform."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.dmn.types import FeelType, null_column
from engine.evaluation.columns import Column
from engine.model import DecisionTable


@dataclass(eq=False)
class BusinessKnowledgeModel:
    name: str
    id: str
    parameters: tuple  # ((name, FeelType | None), ...)
    body: object  # expression AST, or a DecisionTable reading the parameters
    result_type: FeelType | None = None
    functions: dict = field(default_factory=dict, repr=False)  # the BKMs this one requires, by name

    def take(self, rows) -> BusinessKnowledgeModel:
        """Environments are sliced per rule by the table evaluator; a function is the same on every row."""
        return self

    def invoke(self, args: list[Column], n: int) -> Column:
        from engine.evaluation.decisions import evaluate_table  # late: decisions -> vectorized -> (env) -> here
        from engine.evaluation.vectorized import eval_expr

        env: dict = dict(self.functions)
        for k, (name, type_) in enumerate(self.parameters):
            env[name] = conform(args[k], type_, n) if k < len(args) else null_column(type_.base if type_ else None, n)
        if isinstance(self.body, DecisionTable):
            result = evaluate_table(self.body, env, n, strict=False, reasons=False)
            column = result.outputs[self.body.outputs[0].name]
        else:
            column = eval_expr(self.body, env, n)
        return conform(column, self.result_type, n)


def conform(column: Column, type_: FeelType | None, n: int) -> Column:
    """Rows whose value does not conform to ``type_`` become null."""
    if type_ is None or type_.collection or type_.structured or column.type == "list":
        return column
    if type_.base is not None and column.type != type_.base:
        return null_column(type_.base, n)  # a column has one kind: every row is of the wrong one
    if type_.allowed is None:
        return column
    from engine.evaluation.vectorized import test_mask

    outside = ~test_mask(type_.allowed, column, {}) & ~column.isnull()
    if not outside.any():
        return column
    values = column.values.copy()
    values[outside] = np.nan if column.is_float else None
    return Column(column.type, values)
