"""Names in a DMN model: what each element may refer to (its scope: the inputs,
decisions and business knowledge models it requires), the names kade gives
decision outputs, and resolving the names in parsed FEEL to kade names."""

from __future__ import annotations

from engine import feel
from engine.dmn.reader import DmnDocument, dmn_name


class Scope(dict):
    """DMN name -> ('value', kade name) | ('function', bkm) | ('whole', what) for
    one element. In an ``open`` scope (a decision's) a name that no element of
    the model declares is an implicit input, and ``x.y`` where ``x`` is one of
    the ``untyped`` inputs is its field ``y``."""

    def __init__(self, entries=(), *, open: bool = False):
        super().__init__(entries)
        self.open = open
        self.untyped: set[str] = set()

    def dialect(self) -> feel.Dialect:
        """FEEL's dialect knowing this scope's names (and BKM parameters), so names with spaces parse."""
        names = set(self)
        for kind, target in self.values():
            if kind == "function":
                names.update(p for p, _ in target.parameters)
        return feel.Dialect.feel(names)


class Resolver:
    """Renames DMN names in parsed FEEL to kade names and checks invocations.
    Names an open scope does not know become implicit inputs (``implicit``)."""

    def __init__(self, doc: DmnDocument, drg_names: set[str]):
        self.doc, self.drg_names = doc, drg_names
        self.implicit: dict[str, None] = {}  # undeclared names (or fields x.y of inputs) read as inputs, in order

    def _undeclared(self, name: str, scope: Scope) -> bool:
        """Is ``name`` an input the model does not declare, as Camunda reads process
        variables: a name no element has, or a field of one or of an untyped input?"""
        if not scope.open:
            return False
        root = name.split(".")[0]
        if "." in name and root in scope.untyped:
            return True
        return root not in self.drg_names and root not in scope

    def resolve(self, node, scope: Scope, where: str | None):
        """``node`` with kade names; None after recording a problem."""
        problems: list[str] = []

        def rename(name: str):
            kind, target = scope.get(name, (None, None))
            if kind == "value":
                return target
            if kind == "function":
                problems.append(f"{name} is a business knowledge model: invoke it, {name}(…)")
            elif kind == "whole":
                problems.append(f"uses {target} as a whole: only its components (e.g. {name}.x) are supported")
            elif self._undeclared(name, scope):
                self.implicit[name] = None
            else:
                problems.append(
                    f"unknown name {name!r}: not an input, decision or knowledge model this element requires"
                )
            return name

        def walk(n):
            if isinstance(n, feel.Call):
                return self._call(n, scope, walk, problems)
            if isinstance(n, feel.Name):
                return feel.Name(rename(n.name), n.offset)
            if isinstance(n, feel.Literal):
                return n
            return feel.map_children(n, walk)

        resolved = walk(node)
        if problems:
            unsupported = any("not supported" in p or "beyond S-FEEL" in p for p in problems)
            self.doc.fail("; ".join(dict.fromkeys(problems)), where, unsupported=unsupported)
            return None
        return resolved

    def _call(self, call: feel.Call, scope: Scope, walk, problems):
        name = call.function.name
        kind, bkm = scope.get(name, (None, None))
        if kind != "function":
            problems.append(
                f"{name}(…) is not a business knowledge model this element requires; FEEL's built-in "
                "functions are beyond S-FEEL (DMN compliance level 2): not supported"
            )
            return call
        params = [p for p, _ in bkm.parameters]
        args = [walk(a) for a in call.args]
        if call.arg_names is not None:
            unknown = [a for a in call.arg_names if a not in params]
            if unknown:
                problems.append(f"{name}() has no parameter {unknown[0]!r} (parameters: {', '.join(params)})")
                return call
            given = dict(zip(call.arg_names, args))
            args = [given.get(p, feel.Literal(None, None, "null")) for p in params]
        elif len(args) != len(params):
            problems.append(f"{name}() takes {len(params)} argument(s), {len(args)} given")
            return call
        return feel.Call(feel.Name(name, call.function.offset), tuple(args), None)


def output_names(doc: DmnDocument, shapes: dict, taken: set[str]) -> dict:
    """decision -> (((component, kade output), ...), kade output of a single value).
    ``shapes``: decision name -> (element, logic, output elements); ``taken``:
    kade names of inputs and business knowledge models."""
    taken = taken | set(shapes)
    claimed: set[str] = set()
    names: dict[str, tuple[tuple[tuple[str, str], ...], str | None]] = {}
    for name, (element, _, outputs) in shapes.items():
        if len(outputs) <= 1:
            own = outputs[0].get("name") if outputs and doc.kade else None
            single = own or name
            if single in claimed or (single != name and single in taken):
                doc.fail(f"output name {single!r} of decision {name!r} is already used", element.get("id"))
            claimed.add(single)
            names[name] = ((), single)
            continue
        components = []
        for out in outputs:
            component = dmn_name(out)
            if not component:
                doc.fail(
                    f"decision {name!r} has several outputs, so each needs a name",
                    out.get("id") or element.get("id"),
                )
                continue
            kade_name = component if component not in taken and component not in claimed else f"{name}.{component}"
            if kade_name in claimed or (kade_name in taken and kade_name != component):
                doc.fail(
                    f"output {component!r} of decision {name!r} clashes with another name",
                    out.get("id") or element.get("id"),
                )
            claimed.add(kade_name)
            components.append((component, kade_name))
        names[name] = (tuple(components), None)
    return names


def decision_scope(doc: DmnDocument, element, inputs: dict, names: dict, functions: dict) -> Scope:
    """What one decision may refer to: its required inputs (a structured one by its
    components), required decisions (a context-valued one by its components) and
    required business knowledge models. A required decision is also known by its
    outputs' names where nothing else has them: Camunda passes a decision on so
    (decision ``Dish`` with output ``desiredDish`` is read as ``desiredDish``)."""
    scope = Scope(open=True)
    for name in doc.required_names(element, "informationRequirement", "requiredInput"):
        if name not in inputs:
            continue
        for path, kade_name, _ in inputs[name].paths:
            scope[".".join((name, *path))] = ("value", kade_name)
        if inputs[name].type is not None and inputs[name].type.structured:
            scope[name] = ("whole", f"the structured input {name!r}")
        elif inputs[name].type is None:
            scope.untyped.add(name)
    by_output: dict[str, tuple[str, str]] = {}
    for ident in doc.required(element, "informationRequirement", "requiredDecision", element.get("id")):
        name = dmn_name(doc.by_id[ident])
        if name not in names:
            continue
        components, single = names[name]
        if single is not None:
            scope[name] = ("value", single)
            for output in output_elements(doc, doc.by_id[ident])[:1]:
                by_output.setdefault(dmn_name(output), ("value", single))
        else:
            scope[name] = ("whole", f"the structured result of decision {name!r}")
            for component, kade_name in components:
                scope[f"{name}.{component}"] = ("value", kade_name)
                by_output.setdefault(component, ("value", kade_name))
    for name in doc.required_names(element, "knowledgeRequirement", "requiredKnowledge"):
        if name in functions:
            scope[name] = ("function", functions[name])
    if not doc.kade:  # kade's own models name decisions only
        for output, entry in by_output.items():
            if output and output not in scope:
                scope[output] = entry
    return scope


def output_elements(doc: DmnDocument, decision) -> list:
    """The output clauses of a decision's decision table (none for other logic)."""
    table = doc.child(decision, "decisionTable")
    return doc.children(table, "output") if table is not None else []
