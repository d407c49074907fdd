"""Decision dependencies: evaluation order, cycles, and which entity's rows
each name comes from."""

from __future__ import annotations

from engine.errors import DecisionCycleError, RuleError
from engine.feel import names_in
from engine.model import DecisionTable, Entity


def referenced_names(table: DecisionTable) -> set[str]:
    names: set[str] = set()
    for clause in table.inputs:
        names |= names_in(clause.expr)
    for rule in table.rules:
        for node in rule.inputs + rule.outputs:
            names |= names_in(node)
    for output in table.outputs:
        if output.default is not None:
            names |= names_in(output.default)
    return names


def order_decisions(tables: list[DecisionTable]) -> list[DecisionTable]:
    """Dependencies first, otherwise in the order the tables were read.
    A cycle is refused naming every decision on it."""
    producer = {out: t.name for t in tables for out in t.output_names}
    by_name = {t.name: t for t in tables}
    deps = {t.name: sorted({producer[n] for n in referenced_names(t) if n in producer} - {t.name}) for t in tables}
    for t in tables:
        own = referenced_names(t) & set(t.output_names)
        if own:
            raise DecisionCycleError(f"decision {t.name} uses its own output {sorted(own)[0]}", t.position)

    ordered: list[str] = []
    state: dict[str, str] = {}  # name -> 'visiting' | 'done'

    def visit(name: str, path: list[str]):
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = path[path.index(name) :] + [name]
            raise DecisionCycleError(
                "decisions depend on each other in a cycle: " + " → ".join(cycle), by_name[name].position
            )
        state[name] = "visiting"
        for dep in deps[name]:
            visit(dep, path + [name])
        state[name] = "done"
        ordered.append(name)

    for t in tables:
        visit(t.name, [])
    return [by_name[n] for n in ordered]


def ancestors(entity: str, entities: dict[str, Entity]) -> list[str]:
    """The entity itself, then its parent, grandparent..."""
    chain: list[str] = []
    seen: set[str] = set()
    current: str | None = entity
    while current is not None:
        if current in seen:
            raise RuleError(
                f"entities link to each other in a loop: {' → '.join(chain + [current])}", entities[current].position
            )
        seen.add(current)
        chain.append(current)
        current = entities[current].parent if current in entities else None
    return chain
