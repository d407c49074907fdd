"""Evaluation: typed columns in, decisions, rule ids, reasons and near misses out.
Pure - no I/O. The vectorized matcher and durable-rules share the hit policies."""

ENGINES = ("vectorized", "durable")  # the evaluators a user can choose (kade ... --engine)
