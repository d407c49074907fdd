"""Turning a DMN model's elements into kade's rule model: input data into
variables (a structured input into one per component), business knowledge models
into functions, each decision's logic (decision table, literal expression, boxed
invocation) into a ``DecisionTable`` over kade names. Boxed expressions other
than those are refused with the element's id."""

from __future__ import annotations

import dataclasses

from engine import feel
from engine.dmn.errors import element_position
from engine.dmn.functions import BusinessKnowledgeModel
from engine.dmn.item_definitions import ItemDefinitions
from engine.dmn.model import DmnDecision, DmnInput
from engine.dmn.reader import DmnDocument
from engine.dmn.scopes import Resolver, Scope, decision_scope, output_names
from engine.dmn.screening import FeelReader
from engine.dmn.types import FeelType
from engine.dmn.xml import FEEL_LANGUAGES, KADE_NS, split_tag
from engine.errors import RuleError
from engine.evaluation.hitpolicy import validate as validate_hit_policy
from engine.model import AGGREGATING, HIT_POLICIES, DecisionTable, InputClause, OutputClause, Rule, Variable
from engine.model.rulebook import parse_computed, split_alternatives

HIT_POLICY_LETTERS = {name: letter for letter, name in HIT_POLICIES.items() if letter not in AGGREGATING}
AGGREGATIONS = {name.split()[1]: code for code, name in HIT_POLICIES.items() if code in AGGREGATING}

SUPPORTED_LOGIC = ("decisionTable", "literalExpression", "invocation")
BOXED_UNSUPPORTED = {
    "context": "boxed contexts",
    "relation": "boxed relations",
    "list": "boxed lists",
    "functionDefinition": "boxed function definitions",
    "conditional": "boxed conditionals",
    "for": "boxed iterators (for)",
    "every": "boxed quantifiers (every)",
    "some": "boxed quantifiers (some)",
    "filter": "boxed filters",
}


class Converter:
    def __init__(self, doc: DmnDocument, items: ItemDefinitions, feel_reader: FeelReader, resolver: Resolver):
        self.doc, self.items, self.feel, self.resolver = doc, items, feel_reader, resolver
        self.types: dict = {}  # kade name (or ('call', bkm)) -> type, for typing undeclared outputs
        self.output_types: dict[str, FeelType | None] = {}  # kade output -> its declared type
        self.output_values: dict[str, object] = {}  # kade output -> its outputValues test (or None)
        self.input_values: dict[str, list] = {}  # table -> inputValues test (or None) of each input
        self.clause_types: dict[str, list] = {}  # kade name -> types of the input clauses that read it directly

    # ------------------------------------------------------------- inputs ----
    def inputs(self, elements):
        inputs: dict[str, DmnInput] = {}
        variables: dict[str, Variable] = {}
        for element in elements:
            name, ident = " ".join(element.get("name").split()), element.get("id")
            variable = self.doc.child(element, "variable")
            type_ = self.items.type_of(variable.get("typeRef") if variable is not None else None, ident)
            if type_ is not None and type_.collection:
                self.doc.fail(
                    f"input {name!r} is a list ({type_.name}): lists are not supported as input data",
                    ident,
                    unsupported=True,
                )
                continue
            meta = self.doc.kade_metadata(element, "variable")
            fields = {f.get("path"): f for f in meta if f.tag == f"{{{KADE_NS}}}field"} if meta is not None else {}
            paths = []
            for path, leaf in _leaves(type_):
                kade_name = ".".join((name, *path))
                paths.append((path, kade_name, leaf))
                own = fields.get(".".join(path)) if path else meta  # kade's glossary columns of this value
                variables[kade_name] = Variable(
                    kade_name,
                    meta.get("entity") if meta is not None else None,
                    split_alternatives(own.get("headers", "")) if own is not None else (),
                    leaf.base if leaf is not None else None,
                    leaf.allowed if leaf is not None else None,
                    leaf.allowed_values if leaf is not None else (),
                    element.get("label", "") if not path else own.get("label", "") if own is not None else "",
                    self.doc.description(element)
                    if not path
                    else own.get("description", "")
                    if own is not None
                    else "",
                    element_position(self.doc.file, ident),
                    (own.get("records") or None) if own is not None else None,
                    (own.get("compare") or None) if own is not None else None,
                    **_kade_glossary_extras(own, element_position(self.doc.file, ident)),
                )
            inputs[name] = DmnInput(name, ident, type_, tuple(paths))
        return inputs, variables

    # ---------------------------------------------------------- functions ----
    def functions(self, elements) -> dict[str, BusinessKnowledgeModel]:
        functions: dict[str, BusinessKnowledgeModel] = {}
        logic: dict[str, tuple] = {}  # name -> (element, encapsulatedLogic)
        for element in elements:
            name, ident = " ".join(element.get("name").split()), element.get("id")
            body = self.doc.child(element, "encapsulatedLogic")
            if body is None:
                self.doc.fail(f"business knowledge model {name!r} has no encapsulatedLogic", ident)
                continue
            kind = body.get("kind", "FEEL")
            if kind != "FEEL":
                self.doc.fail(
                    f"business knowledge model {name!r} is a {kind} function: only FEEL is supported",
                    ident,
                    unsupported=True,
                )
                continue
            parameters = tuple(
                (" ".join(p.get("name", "").split()), self.items.type_of(p.get("typeRef"), p.get("id") or ident))
                for p in self.doc.children(body, "formalParameter")
            )
            for pname, ptype in parameters:
                if ptype is not None and (ptype.structured or ptype.collection):
                    self.doc.fail(
                        f"parameter {pname!r} of {name!r} is a structure or list: not supported",
                        ident,
                        unsupported=True,
                    )
            functions[name] = BusinessKnowledgeModel(name, ident, parameters, None)
            logic[name] = (element, body)
        self.doc.raise_if_any()
        for name, (element, body) in logic.items():
            bkm = functions[name]
            required = self.doc.required_names(element, "knowledgeRequirement", "requiredKnowledge")
            bkm.functions = {r: functions[r] for r in required if r in functions}
            scope = Scope({p: ("value", p) for p, _ in bkm.parameters})
            scope.update({f: ("function", functions[f]) for f in bkm.functions})
            expression = self._logic_element(body, element.get("id"), f"business knowledge model {name!r}")
            if expression is None:
                continue
            local = split_tag(expression.tag)[1]
            result_type = self.items.type_of(expression.get("typeRef"), expression.get("id") or element.get("id"))
            if local == "literalExpression":
                bkm.body = self.literal_expression(expression, scope, element.get("id"))
                if bkm.body is not None and result_type is None:
                    self.types[("call", name)] = static_type(
                        bkm.body, {p: t.base if t else None for p, t in bkm.parameters}
                    )
            elif local == "decisionTable":
                table = self.decision_table(expression, name, element, scope, result_type, {}, single_output=name)
                if table is not None and len(table.outputs) > 1:
                    self.doc.fail(
                        f"business knowledge model {name!r} returns a context (several outputs): not supported",
                        expression.get("id") or element.get("id"),
                        unsupported=True,
                    )
                elif table is not None:
                    try:
                        validate_hit_policy(table)  # decisions get this from build_ruleset
                    except RuleError as exc:
                        self.doc.errors.add(exc)
                    self.types[("call", name)] = result_type.base if result_type is not None else table.outputs[0].type
                bkm.body = table
            else:
                self.doc.fail(
                    f"business knowledge model {name!r}: {local} as a body is not supported",
                    element.get("id"),
                    unsupported=True,
                )
            bkm.result_type = result_type
            if result_type is not None:
                self.types[("call", name)] = result_type.base
        self._refuse_recursion(functions)
        return functions

    def _refuse_recursion(self, functions):
        def visit(f, path):
            if f.name in path:
                self.doc.fail(
                    "business knowledge models invoke each other in a loop: " + " → ".join([*path, f.name]),
                    f.id,
                    unsupported=True,
                )
                return
            for g in f.functions.values():
                visit(g, [*path, f.name])

        for f in functions.values():
            visit(f, [])

    def _logic_element(self, element, where: str, what: str):
        """The one expression element of a decision / function body, or None (after a refusal)."""
        found = []
        for c in element:
            ns, local = split_tag(c.tag)
            if ns != self.doc.ns:
                continue
            if local in SUPPORTED_LOGIC:
                found.append(c)
            elif local in BOXED_UNSUPPORTED:
                self.doc.fail(
                    f"{what} uses {BOXED_UNSUPPORTED[local]}, which kade does not support (only decision tables, "
                    "literal expressions and invocations)",
                    c.get("id") or where,
                    unsupported=True,
                )
                return None
        if not found:
            self.doc.fail(f"{what} has no decision logic", where)
            return None
        return found[0]

    # ---------------------------------------------------------- decisions ----
    def decisions(self, elements, inputs: dict[str, DmnInput], functions):
        shapes = {}
        for element in elements:
            name = " ".join(element.get("name").split())
            logic = self._logic_element(element, element.get("id"), f"decision {name!r}")
            if logic is None:
                continue
            outputs = self.doc.children(logic, "output") if split_tag(logic.tag)[1] == "decisionTable" else []
            shapes[name] = (element, logic, outputs)
        self.doc.raise_if_any()
        names = output_names(self.doc, shapes, {v for i in inputs.values() for _, v, _ in i.paths} | set(functions))
        self.doc.raise_if_any()

        decisions, tables, output_variables = {}, [], {}
        for name, (element, logic, _) in shapes.items():
            self.feel.take_value_errors()  # a decision that is not converted keeps none
            ident = element.get("id")
            variable = self.doc.child(element, "variable")
            type_ = self.items.type_of(variable.get("typeRef") if variable is not None else None, ident)
            scope = decision_scope(self.doc, element, inputs, names, functions)
            meta = self.doc.kade_metadata(element, "decision")
            entity = meta.get("entity") if meta is not None else None
            local = split_tag(logic.tag)[1]
            components, single = names[name]
            if local == "decisionTable":
                table = self.decision_table(
                    logic, name, element, scope, type_, dict(components), single_output=single, entity=entity
                )
                if table is not None:
                    output_variables.update(self._output_variables(logic, table, components, single))
            else:
                expression = (
                    self.literal_expression(logic, scope, ident)
                    if local == "literalExpression"
                    else self.invocation(logic, scope, ident)
                )
                table = None
                if expression is not None:
                    base = type_.base if type_ is not None and not type_.collection else None
                    rule = Rule(
                        logic.get("id") or "R1",
                        (),
                        (expression,),
                        "",
                        element_position(self.doc.file, logic.get("id") or ident),
                    )
                    output = _infer_type(
                        OutputClause(single, base, (), None, element_position(self.doc.file, ident)),
                        [expression],
                        self.types,
                    )
                    table = DecisionTable(
                        name,
                        entity,
                        "U",
                        (),
                        (output,),
                        (rule,),
                        element.get("label", ""),
                        element_position(self.doc.file, ident),
                    )
            if table is None:
                continue
            self.types.update({o.name: o.type for o in table.outputs})
            tables.append(table)
            tabular = local == "decisionTable"
            decisions[name] = DmnDecision(
                name,
                ident,
                local,
                table,
                type_,
                tuple(components),
                single,
                tuple(self.output_types.get(o.name) for o in table.outputs) if tabular else (),
                tuple(self.input_values.get(name, ())) if tabular else (),
                tuple(self.output_values.get(o.name) for o in table.outputs) if tabular else (),
                "; ".join(why for _, why in self.feel.take_value_errors()) or None,
            )
        return decisions, tables, output_variables

    def _output_variables(self, logic, table: DecisionTable, components, single) -> dict[str, Variable]:
        """Glossary entries kade's exporter attached to output clauses."""
        found = {}
        for out, clause in zip(self.doc.children(logic, "output"), table.outputs):
            meta = self.doc.kade_metadata(out, "variable")
            if meta is None:
                continue
            type_ = self.items.type_of(out.get("typeRef"), out.get("id"))
            found[clause.name] = Variable(
                clause.name,
                meta.get("entity"),
                split_alternatives(meta.get("headers", "")),
                clause.type,
                type_.allowed if type_ is not None else None,
                type_.allowed_values if type_ is not None else (),
                out.get("label", ""),
                self.doc.description(out),
                element_position(self.doc.file, out.get("id")),
                meta.get("records") or None,
                meta.get("compare") or None,
            )
        return found

    def literal_expression(self, element, scope, where):
        language = element.get("expressionLanguage")
        if language and language not in FEEL_LANGUAGES:
            self.doc.fail(f"expression language {language} is not FEEL", element.get("id") or where, unsupported=True)
            return None
        if self.doc.child(element, "importedValues") is not None:
            self.doc.fail("importedValues are not supported", element.get("id") or where, unsupported=True)
            return None
        text = self.doc.text(element)
        if not text.strip():
            return feel.Literal(None, None, "null")  # an empty literal expression is null
        return self.feel.expression(text, scope, element.get("id") or where)

    def invocation(self, element, scope, where):
        """A boxed invocation: the same as FEEL ``f(p1: e1, p2: e2)``."""
        here = element.get("id") or where
        target = self.doc.child(element, "literalExpression")  # names the function
        function_name = " ".join(self.doc.text(target).split()) if target is not None else ""
        kind, bkm = scope.get(function_name, (None, None))
        if kind != "function":
            self.doc.fail(
                f"invocation of {function_name!r}: not a business knowledge model this decision requires", here
            )
            return None
        args = {}
        for binding in self.doc.children(element, "binding"):
            parameter = self.doc.child(binding, "parameter")
            pname = " ".join(parameter.get("name", "").split()) if parameter is not None else ""
            bound = self.doc.logic_child(binding)
            if bound is None:
                args[pname] = feel.Literal(None, None, "null")
                continue
            if split_tag(bound.tag)[1] != "literalExpression":
                self.doc.fail(
                    f"binding of {pname!r}: only literal expressions can be bound",
                    bound.get("id") or here,
                    unsupported=True,
                )
                return None
            value = self.literal_expression(bound, scope, here)
            if value is None:
                return None
            args[pname] = value
        params = [p for p, _ in bkm.parameters]
        unknown = [p for p in args if p not in params]
        if unknown:
            self.doc.fail(
                f"invocation binds {unknown[0]!r}, which is not a parameter of {function_name!r} ({', '.join(params)})",
                here,
            )
            return None
        return feel.Call(
            feel.Name(function_name), tuple(args.get(p, feel.Literal(None, None, "null")) for p in params), None
        )

    # ----------------------------------------------------- decision tables ---
    def decision_table(
        self,
        element,
        name: str,
        owner,
        scope,
        type_: FeelType | None,
        components: dict,
        *,
        single_output: str | None,
        entity: str | None = None,
    ) -> DecisionTable | None:
        here = element.get("id") or owner.get("id")
        before = len(self.doc.errors)
        policy_name = " ".join((element.get("hitPolicy") or "UNIQUE").split())
        aggregation = element.get("aggregation")
        if policy_name not in HIT_POLICY_LETTERS:
            self.doc.fail(f"unknown hit policy {policy_name!r}", here)
            return None
        hit = HIT_POLICY_LETTERS[policy_name]
        if aggregation:
            if hit != "C" or aggregation not in AGGREGATIONS:
                self.doc.fail(
                    f"aggregation {aggregation!r} with hit policy {policy_name}: only COLLECT takes SUM, MIN, MAX or COUNT",
                    here,
                )
                return None
            hit = AGGREGATIONS[aggregation]
        inputs = []
        for clause in self.doc.children(element, "input"):
            where = clause.get("id") or here
            expression_element = self.doc.child(clause, "inputExpression")
            text = self.doc.text(expression_element) if expression_element is not None else ""
            expr = self.feel.expression(
                text, scope, (expression_element.get("id") if expression_element is not None else None) or where
            )
            clause_type = self.items.type_of(
                expression_element.get("typeRef") if expression_element is not None else None, where
            )
            if clause_type is not None and (clause_type.structured or clause_type.collection):
                self.doc.fail(f"input {text!r} is a structure or list: not supported", where, unsupported=True)
            values_element = self.doc.child(clause, "inputValues")
            constraint = None
            if values_element is not None:
                constraint, _ = self.items.allowed_values(
                    self.doc.text(values_element), None, values_element.get("id") or where
                )
            if isinstance(expr, feel.Name):
                self.clause_types.setdefault(expr.name, []).append(clause_type.base if clause_type else None)
            if expr is not None:
                inputs.append(
                    InputClause(
                        clause.get("label") or text.strip(),
                        expr,
                        clause_type.base if clause_type is not None else None,
                        element_position(self.doc.file, where),
                    )
                )
                self.input_values.setdefault(name, []).append(constraint)
        outputs = []
        output_elements = self.doc.children(element, "output")
        if not output_elements:
            self.doc.fail("a decision table needs at least one output", here)
        for out in output_elements:
            where = out.get("id") or here
            if len(output_elements) == 1:
                assert single_output is not None  # _output_names() names every one-output table's output
                kade_name, declared = single_output, _element_type(type_)
            else:
                component = " ".join((out.get("name") or "").split())
                kade_name = components.get(component, component)
                declared = dict(type_.components).get(component) if type_ is not None and type_.structured else None
            own_type = self.items.type_of(out.get("typeRef"), where)
            clause_type = own_type or declared
            values_element = self.doc.child(out, "outputValues")
            constraint = None
            if values_element is not None:
                constraint, allowed = self.items.allowed_values(
                    self.doc.text(values_element),
                    clause_type.base if clause_type else None,
                    values_element.get("id") or where,
                )
            else:  # the type's allowed values stand in (DMN: output values default to the type's)
                allowed = clause_type.allowed_values if clause_type is not None else ()
            self.output_values[kade_name] = constraint
            default_element = self.doc.child(out, "defaultOutputEntry")
            default = None
            if default_element is not None:
                default = self.literal_expression(default_element, scope, default_element.get("id") or where)
            outputs.append(
                OutputClause(
                    kade_name,
                    clause_type.base if clause_type is not None else None,
                    tuple(allowed),
                    default,
                    element_position(self.doc.file, where),
                )
            )
            self.output_types[kade_name] = clause_type
        annotations = len(self.doc.children(element, "annotation"))
        rules = []
        for index, rule in enumerate(self.doc.children(element, "rule"), start=1):
            where = rule.get("id") or here
            entries = self.doc.children(rule, "inputEntry")
            results = self.doc.children(rule, "outputEntry")
            if len(entries) != len(inputs) or len(results) != len(output_elements):
                if len(self.doc.errors) == before:
                    self.doc.fail(
                        f"rule {index} has {len(entries)} input and {len(results)} output entries; the table has "
                        f"{len(inputs)} inputs and {len(output_elements)} outputs",
                        where,
                    )
                continue
            tests = []
            for entry in entries:
                language = entry.get("expressionLanguage")
                if language and language not in FEEL_LANGUAGES:
                    self.doc.fail(
                        f"expression language {language} is not FEEL", entry.get("id") or where, unsupported=True
                    )
                tests.append(self.feel.unary_tests(self.doc.text(entry), scope, entry.get("id") or where))
            values = [self.literal_expression(r, scope, r.get("id") or where) for r in results]
            notes = [self.doc.text(a).strip() for a in self.doc.children(rule, "annotationEntry")]
            note = "; ".join(n for n in notes if n) if annotations or notes else self.doc.description(rule)
            rule_id = rule.get("label") or rule.get("id") or f"R{index}"
            rules.append(
                Rule(
                    rule_id, tuple(tests), tuple(values), note, element_position(self.doc.file, rule.get("id") or here)
                )
            )
        if not rules and len(self.doc.errors) == before:
            self.doc.fail("the decision table has no rules", here)
        if len(self.doc.errors) > before:
            return None
        outputs = [
            _infer_type(o, [r.outputs[k] for r in rules] + ([o.default] if o.default is not None else []), self.types)
            for k, o in enumerate(outputs)
        ]
        return DecisionTable(
            name,
            entity,
            hit,
            tuple(inputs),
            tuple(outputs),
            tuple(rules),
            owner.get("label", ""),
            element_position(self.doc.file, owner.get("id")),
        )


def _infer_type(clause: OutputClause, entries, types: dict) -> OutputClause:
    """An output without a declared type gets the type its entries evidently have
    (``static_type``), so its column is labelled right; DMN conformance itself
    uses declared types only."""
    if clause.type is not None:
        return clause
    found = {static_type(e, types) for e in entries if not (isinstance(e, feel.Literal) and e.type is None)}
    return dataclasses.replace(clause, type=found.pop() if len(found) == 1 and None not in found else None)


def static_type(node, types: dict) -> str | None:
    """The kind of value an expression gives, where it is evident without evaluating
    (``types``: kade name -> type). None when it is not."""
    if isinstance(node, feel.Literal):
        return node.type
    if isinstance(node, feel.Name):
        return types.get(node.name)
    if isinstance(node, feel.Call):
        return types.get(("call", node.function.name))
    if isinstance(node, feel.Unary):
        return feel.BOOLEAN if node.op == "not" else feel.NUMBER
    if isinstance(node, feel.Binary):
        if node.op in ("and", "or", "=", "!=", "<", "<=", ">", ">="):
            return feel.BOOLEAN
        if node.op != "+":
            return feel.NUMBER  # the evaluator gives a number (or null) for - * / **
        sides = {static_type(node.left, types), static_type(node.right, types)}
        if feel.STRING in sides:
            return feel.STRING
        return feel.NUMBER if sides == {feel.NUMBER} else None
    return None


def _element_type(type_: FeelType | None) -> FeelType | None:
    """The type of one output value: a list's items are typed by the list's element type."""
    if type_ is None or type_.structured:
        return None
    return type_.element() if type_.collection else type_


def _leaves(type_: FeelType | None, path: tuple = ()):
    """(path, leaf type) of every base-typed value in a (possibly structured) type."""
    if type_ is None or not type_.structured:
        yield path, type_
        return
    for name, component in type_.components:
        yield from _leaves(component, (*path, name))


def _kade_glossary_extras(meta, where) -> dict:
    """``required`` and ``computed`` of a glossary entry, from kade's extension (see engine.dmn.export)."""
    if meta is None:
        return {}
    computed = meta.get("computed")
    return {
        "required": meta.get("required") == "true",
        "computed": parse_computed(computed, where) if computed else None,
    }
