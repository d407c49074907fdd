"""Load a DMN model (.dmn, DMN 1.1 to 1.5) into kade's rule model.

What is read (compliance level 2): input data, decisions with a decision table,
a literal expression or a boxed invocation as their logic, business knowledge
models (literal-expression or decision-table body) and their invocation,
information and knowledge requirements, item definitions (base types, allowed
values, structures, collections). FEEL text is S-FEEL as ``engine.feel.sfeel`` reads
it in its FEEL dialect: arithmetic with ``**``, comparisons, three-valued
``and``/``or``/``not()``, string, number, boolean and ``date("...")`` literals,
names with spaces and qualified names (``Loan.amount``), invocations.

Anything else - full FEEL (``if``, ``for``, lists, contexts, built-in functions,
temporal types other than date), boxed contexts, relations, lists, function
definitions, conditionals, iterators, filters, decision services, imports - is
refused at load with the element's id and what is not supported, never
evaluated to a wrong answer. All problems of a model are reported together.

Models written by kade's exporter (``engine.dmn.export``) carry kade's own
metadata in ``extensionElements`` (entities, glossary columns, rule ids, output
names); it is read back so that Excel -> DMN -> Excel is lossless.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from engine import feel
from engine.dmn.errors import DmnError, UnsupportedDmnError, element_position
from engine.dmn.functions import BusinessKnowledgeModel
from engine.dmn.model import DmnDecision, DmnInput, DmnModel
from engine.dmn.types import ANY_TYPES, BASE_TYPES, UNSUPPORTED_TYPES, FeelType, local_type_name
from engine.dmn.xml import DMN_NAMESPACES, FEEL_LANGUAGES, KADE_NS, read_xml, split_tag
from engine.errors import FeelSyntaxError, FeelTypeError, RuleError, RuleErrors
from engine.evaluation.hitpolicy import validate as validate_hit_policy
from engine.model import HIT_POLICIES, DecisionTable, Entity, InputClause, OutputClause, Rule, Variable
from engine.model.rulebook import build_ruleset, split_alternatives

HIT_POLICY_LETTERS = {name: letter for letter, name in HIT_POLICIES.items() if letter not in ("C+", "C<", "C>", "C#")}
AGGREGATIONS = {"SUM": "C+", "MIN": "C<", "MAX": "C>", "COUNT": "C#"}

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
# top-level elements that carry no decision logic: read past them
DOCUMENTATION_ONLY = {
    "description",
    "extensionElements",
    "knowledgeSource",
    "textAnnotation",
    "association",
    "group",
    "performanceIndicator",
    "organizationUnit",
    "elementCollection",
    "businessContextElement",
}

_STRINGS = re.compile(r'"(?:\\.|[^"\\])*"')
_TEMPORAL = re.compile(
    r"\b(date\s+and\s+time|time|duration|years\s+and\s+months\s+duration|days\s+and\s+time\s+duration)\s*\("
)
_FULL_FEEL = [
    (re.compile(r"\bif\b"), "FEEL 'if … then … else' expressions"),
    (re.compile(r"\bfor\b"), "FEEL 'for … in … return' expressions"),
    (re.compile(r"\b(some|every)\b"), "FEEL quantified expressions (some / every … satisfies)"),
    (re.compile(r"\bbetween\b"), "FEEL 'between … and …'"),
    (re.compile(r"\binstance\s+of\b"), "FEEL 'instance of'"),
    (re.compile(r"\bfunction\b"), "FEEL function definitions"),
    (re.compile(r"\bin\b"), "FEEL 'in' tests"),
    (re.compile(r"\{"), "FEEL contexts ({…})"),
    (re.compile(r"@"), "FEEL @-literals"),
    (re.compile(r"[^\W\d]\w*(?:\s+\w+)+\s*\("), "FEEL's built-in functions"),
]


def load_dmn(source: str | Path | bytes, *, name: str | None = None) -> DmnModel:
    """Read a .dmn file (or its bytes) into a ``DmnModel``.

    Raises ``DmnXmlError`` for unreadable or unsafe XML, ``UnsupportedDmnError``
    for constructs beyond compliance level 2, ``DmnError`` / ``RuleError`` for an
    invalid model; several problems come together as ``RuleErrors``."""
    label = name or ("<memory>" if isinstance(source, bytes) else str(source))
    root = read_xml(source)
    return _Loader(root, label).load()


class _Loader:
    def __init__(self, root, file: str):
        self.root, self.file = root, file
        ns, local = split_tag(root.tag)
        if local != "definitions" or ns not in DMN_NAMESPACES:
            raise DmnError(
                f"not a DMN 1.1–1.5 model: the root element is {{{ns}}}{local}, expected definitions in one of "
                + ", ".join(DMN_NAMESPACES),
                element_position(file, None),
            )
        self.ns, self.version = ns, DMN_NAMESPACES[ns]
        self.errors: list[RuleError] = []
        self.item_definitions: dict[str, object] = {}
        self._types: dict[str, FeelType | None] = {}
        self._resolving: set[str] = set()
        self.kade = self._kade_metadata(root, "model") is not None
        self.types: dict = {}  # kade name (or ('call', bkm)) -> type, for typing undeclared outputs
        self.output_types: dict[str, FeelType | None] = {}  # kade output -> its declared type
        self.output_values: dict[str, object] = {}  # kade output -> its outputValues test (or None)
        self.implicit: dict[str, list] = {}  # undeclared names read as inputs -> types input clauses give them
        self.notes: list[str] = []
        self.input_values: dict[str, list] = {}  # table -> inputValues test (or None) of each input

    # ------------------------------------------------------------ helpers ----
    def q(self, local: str) -> str:
        return f"{{{self.ns}}}{local}"

    def children(self, element, local: str) -> list:
        return [c for c in element if c.tag == self.q(local)]

    def child(self, element, local: str):
        found = self.children(element, local)
        return found[0] if found else None

    def text(self, element) -> str:
        node = self.child(element, "text") if element is not None else None
        return (node.text or "") if node is not None else ""

    def fail(self, message: str, where: str | None, offset: int | None = None, *, unsupported: bool = False):
        cls = UnsupportedDmnError if unsupported else DmnError
        self.errors.append(cls(message, element_position(self.file, where, offset)))

    def raise_if_any(self):
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise RuleErrors(self.errors)

    def _kade_metadata(self, element, local: str):
        """kade's extension element ``local`` under ``element``'s extensionElements, if any."""
        ext = self.child(element, "extensionElements") if element is not None else None
        if ext is None:
            return None
        for c in ext:
            if c.tag == f"{{{KADE_NS}}}{local}":
                return c
        return None

    def href_id(self, element, where: str) -> str | None:
        href = element.get("href", "")
        base, _, ident = href.partition("#")
        if base and base != self.root.get("namespace"):
            self.fail(
                f"reference {href!r} points into another model: DMN imports are not supported", where, unsupported=True
            )
            return None
        return ident or None

    def description(self, element) -> str:
        node = self.child(element, "description")
        return (node.text or "").strip() if node is not None else ""

    # -------------------------------------------------------------- load -----
    def load(self) -> DmnModel:
        root = self.root
        for attr in ("expressionLanguage", "typeLanguage"):
            language = root.get(attr)
            if language and language not in FEEL_LANGUAGES:
                self.fail(
                    f"{attr} {language} is not FEEL: only FEEL models are supported", root.get("id"), unsupported=True
                )
        elements: dict[str, list] = {"inputData": [], "decision": [], "businessKnowledgeModel": []}
        for element in root:
            ns, local = split_tag(element.tag)
            if ns != self.ns:
                continue  # DMNDI diagrams and foreign extensions
            if local == "itemDefinition":
                self.item_definitions[element.get("name", "")] = element
            elif local in elements:
                elements[local].append(element)
            elif local == "import":
                self.fail(
                    f"import of {element.get('locationURI') or element.get('namespace')}: DMN imports are not supported",
                    element.get("id"),
                    unsupported=True,
                )
            elif local == "decisionService":
                self.fail(
                    f"decision service {element.get('name')!r} is not supported", element.get("id"), unsupported=True
                )
            elif local not in DOCUMENTATION_ONLY:
                self.fail(f"element {local} is not supported", element.get("id"), unsupported=True)
        self.raise_if_any()

        self.by_id = {e.get("id"): e for group in elements.values() for e in group if e.get("id")}
        self.drg_names = {" ".join((e.get("name") or "").split()) for group in elements.values() for e in group}
        self._check_names(elements)
        self.raise_if_any()
        entities = self._entities()
        inputs, variables = self._inputs(elements["inputData"])
        self.types.update({v.name: v.type for v in variables.values()})
        functions = self._functions(elements["businessKnowledgeModel"])
        self.raise_if_any()
        decisions, tables, output_variables = self._decisions(elements["decision"], inputs, functions)
        self.raise_if_any()
        variables.update(output_variables)
        self._implicit_inputs(inputs, variables)
        rules = build_ruleset(variables, entities, tables, [self.file])
        ordered = {t.name: t for t in rules.decisions}  # typed by build_ruleset
        decisions = {n: _with_table(d, ordered[d.table.name]) for n, d in decisions.items()}
        return DmnModel(
            root.get("name", ""),
            root.get("namespace", ""),
            self.file,
            self.version,
            rules,
            inputs,
            decisions,
            functions,
            self.kade,
            self.notes,
        )

    def _implicit_inputs(self, inputs: dict, variables: dict):
        """Names no element declares, read as inputs the way Camunda's engine reads
        process variables; typed by the input clauses that read them directly."""
        for name, types in self.implicit.items():
            found = {t for t in types if t is not None}
            base = found.pop() if len(found) == 1 else None
            type_ = FeelType(base, base) if base else None
            inputs[name] = DmnInput(name, "", type_, (((), name, type_),))
            variables[name] = Variable(name, None, (), base, None, (), "", "not declared as input data in the model")
            self.notes.append(
                f"{name} is not declared as input data: it is read as an input"
                + (f" of type {base}" if base else " of any type")
            )

    def _check_names(self, elements):
        seen: dict[str, str] = {}
        for group in elements.values():
            for element in group:
                name = " ".join((element.get("name") or "").split())
                if not name:
                    self.fail(f"{split_tag(element.tag)[1]} without a name", element.get("id"))
                elif name in seen:
                    self.fail(f"two elements are named {name!r} (also #{seen[name]})", element.get("id"))
                else:
                    seen[name] = element.get("id") or "?"

    def _entities(self) -> dict[str, Entity]:
        model = self._kade_metadata(self.root, "model")
        entities = {}
        for e in model if model is not None else []:
            if e.tag == f"{{{KADE_NS}}}entity":
                name = e.get("name", "")
                entities[name] = Entity(
                    name,
                    split_alternatives(e.get("sheets", "")) or (name,),
                    e.get("key", ""),
                    e.get("parent") or None,
                    split_alternatives(e.get("link", "")) or None,
                )
        return entities

    # -------------------------------------------------------------- types ----
    def type_of(self, type_ref: str | None, where: str | None) -> FeelType | None:
        """The type a typeRef names; None for Any or no typeRef."""
        if not type_ref or not type_ref.strip():
            return None
        raw = " ".join(type_ref.split())
        for candidate in (raw, local_type_name(raw)):
            if candidate in self.item_definitions:
                return self._item_definition(candidate, where)
        local = local_type_name(raw)
        if local in BASE_TYPES:
            return FeelType(local, BASE_TYPES[local])
        if local in ANY_TYPES:
            return None
        if local in UNSUPPORTED_TYPES:
            self.fail(
                f"type {raw!r} is not supported: kade evaluates number, string, boolean and date values",
                where,
                unsupported=True,
            )
            return None
        self.fail(f"unknown type {raw!r}: neither a FEEL type nor an itemDefinition of this model", where)
        return None

    def _item_definition(self, name: str, where: str | None) -> FeelType | None:
        if name in self._types:
            return self._types[name]
        if name in self._resolving:
            self.fail(f"itemDefinition {name!r} is defined in terms of itself", where)
            return None
        self._resolving.add(name)
        try:
            resolved = self._read_type(self.item_definitions[name], name, where)
        finally:
            self._resolving.discard(name)
        self._types[name] = resolved
        return resolved

    def _read_type(self, element, name: str, where: str | None) -> FeelType | None:
        here = element.get("id") or where
        collection = element.get("isCollection") == "true"
        if self.child(element, "functionItem") is not None:
            self.fail(f"type {name!r} is a function type: not supported", here, unsupported=True)
            return None
        components = self.children(element, "itemComponent")
        if components:
            parts = tuple((c.get("name", ""), self._read_type(c, c.get("name", ""), here)) for c in components)
            if any(t is not None and t.collection for _, t in parts):
                self.fail(
                    f"type {name!r} has a collection component: lists inside structures are not supported",
                    here,
                    unsupported=True,
                )
            return FeelType(name, None, components=parts, collection=collection)
        type_ref = self.child(element, "typeRef")
        inner = self.type_of((type_ref.text or "") if type_ref is not None else element.get("typeRef"), here)
        if inner is not None and inner.collection and collection:
            self.fail(f"type {name!r} is a list of lists: not supported", here, unsupported=True)
            return None
        base = inner.base if inner is not None else None
        allowed, values, text = (
            (inner.allowed, inner.allowed_values, inner.allowed_text) if inner is not None else (None, (), "")
        )
        constraint = self.child(element, "allowedValues")
        if constraint is None:
            constraint = self.child(element, "typeConstraint")
            if constraint is not None and collection:
                self.fail(f"type {name!r}: a typeConstraint on a collection is not supported", here, unsupported=True)
        if constraint is not None:
            text = self.text(constraint)
            allowed, values = self.allowed_values(text, base, constraint.get("id") or here)
        if inner is not None and inner.structured:
            return FeelType(name, None, components=inner.components, collection=collection or inner.collection)
        return FeelType(
            name,
            base,
            allowed,
            values,
            collection=collection or (inner.collection if inner else False),
            allowed_text=text,
        )

    def allowed_values(self, text: str, base: str | None, where: str | None):
        """(unary test, literal values in order) of an allowedValues / outputValues text."""
        test = self.unary_tests(text, _Scope(), where)
        if test is None or isinstance(test, feel.AnyTest):
            return None, ()
        return normalize_allowed(test)

    # ------------------------------------------------------------- inputs ----
    def _inputs(self, elements):
        inputs: dict[str, DmnInput] = {}
        variables: dict[str, Variable] = {}
        for element in elements:
            name, ident = " ".join(element.get("name").split()), element.get("id")
            variable = self.child(element, "variable")
            type_ = self.type_of(variable.get("typeRef") if variable is not None else None, ident)
            if type_ is not None and type_.collection:
                self.fail(
                    f"input {name!r} is a list ({type_.name}): lists are not supported as input data",
                    ident,
                    unsupported=True,
                )
                continue
            meta = self._kade_metadata(element, "variable")
            paths = []
            for path, leaf in _leaves(type_):
                kade_name = ".".join((name, *path))
                paths.append((path, kade_name, leaf))
                variables[kade_name] = Variable(
                    kade_name,
                    meta.get("entity") if meta is not None else None,
                    split_alternatives(meta.get("headers", "")) if meta is not None else (),
                    leaf.base if leaf is not None else None,
                    leaf.allowed if leaf is not None else None,
                    leaf.allowed_values if leaf is not None else (),
                    element.get("label", "") if not path else "",
                    self.description(element) if not path else "",
                    element_position(self.file, ident),
                    (meta.get("records") or None) if meta is not None and not path else None,
                    (meta.get("compare") or None) if meta is not None and not path else None,
                )
            inputs[name] = DmnInput(name, ident, type_, tuple(paths))
        return inputs, variables

    # ---------------------------------------------------------- functions ----
    def _functions(self, elements) -> dict[str, BusinessKnowledgeModel]:
        functions: dict[str, BusinessKnowledgeModel] = {}
        logic: dict[str, tuple] = {}  # name -> (element, encapsulatedLogic)
        for element in elements:
            name, ident = " ".join(element.get("name").split()), element.get("id")
            body = self.child(element, "encapsulatedLogic")
            if body is None:
                self.fail(f"business knowledge model {name!r} has no encapsulatedLogic", ident)
                continue
            kind = body.get("kind", "FEEL")
            if kind != "FEEL":
                self.fail(
                    f"business knowledge model {name!r} is a {kind} function: only FEEL is supported",
                    ident,
                    unsupported=True,
                )
                continue
            parameters = tuple(
                (" ".join(p.get("name", "").split()), self.type_of(p.get("typeRef"), p.get("id") or ident))
                for p in self.children(body, "formalParameter")
            )
            for pname, ptype in parameters:
                if ptype is not None and (ptype.structured or ptype.collection):
                    self.fail(
                        f"parameter {pname!r} of {name!r} is a structure or list: not supported",
                        ident,
                        unsupported=True,
                    )
            functions[name] = BusinessKnowledgeModel(name, ident, parameters, None)
            logic[name] = (element, body)
        self.raise_if_any()
        for name, (element, body) in logic.items():
            required = self._required(element, "knowledgeRequirement", "requiredKnowledge", element.get("id"))
            bkm = functions[name]
            bkm.functions = {
                self.by_id[i].get("name"): functions[self.by_id[i].get("name")]
                for i in required
                if i in self.by_id and self.by_id[i].get("name") in functions
            }
            scope = _Scope({p: ("value", p) for p, _ in bkm.parameters})
            scope.update({f: ("function", functions[f]) for f in bkm.functions})
            expression = self._logic_element(body, element.get("id"), f"business knowledge model {name!r}")
            if expression is None:
                continue
            local = split_tag(expression.tag)[1]
            result_type = self.type_of(expression.get("typeRef"), expression.get("id") or element.get("id"))
            if local == "literalExpression":
                bkm.body = self.literal_expression(expression, scope, element.get("id"))
                if bkm.body is not None and result_type is None:
                    self.types[("call", name)] = static_type(
                        bkm.body, {p: t.base if t else None for p, t in bkm.parameters}
                    )
            elif local == "decisionTable":
                table = self.decision_table(expression, name, element, scope, result_type, {}, single_output=name)
                if table is not None and len(table.outputs) > 1:
                    self.fail(
                        f"business knowledge model {name!r} returns a context (several outputs): not supported",
                        expression.get("id") or element.get("id"),
                        unsupported=True,
                    )
                elif table is not None:
                    try:
                        validate_hit_policy(table)  # decisions get this from build_ruleset
                    except RuleError as exc:
                        self.errors.append(exc)
                    self.types[("call", name)] = result_type.base if result_type is not None else table.outputs[0].type
                bkm.body = table
            else:
                self.fail(
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
                self.fail(
                    "business knowledge models invoke each other in a loop: " + " → ".join([*path, f.name]),
                    f.id,
                    unsupported=True,
                )
                return
            for g in f.functions.values():
                visit(g, [*path, f.name])

        for f in functions.values():
            visit(f, [])

    def _required(self, element, requirement: str, target: str, where: str) -> list[str]:
        ids = []
        for req in self.children(element, requirement):
            for ref in self.children(req, target):
                ident = self.href_id(ref, req.get("id") or where)
                if ident is None:
                    continue
                if ident not in self.by_id:
                    self.fail(f"{requirement} refers to #{ident}, which is not in the model", req.get("id") or where)
                    continue
                ids.append(ident)
        return ids

    def _logic_element(self, element, where: str, what: str):
        """The one expression element of a decision / function body, or None (after a refusal)."""
        found = []
        for c in element:
            ns, local = split_tag(c.tag)
            if ns != self.ns:
                continue
            if local in SUPPORTED_LOGIC:
                found.append(c)
            elif local in BOXED_UNSUPPORTED:
                self.fail(
                    f"{what} uses {BOXED_UNSUPPORTED[local]}, which kade does not support (only decision tables, "
                    "literal expressions and invocations)",
                    c.get("id") or where,
                    unsupported=True,
                )
                return None
        if not found:
            self.fail(f"{what} has no decision logic", where)
            return None
        return found[0]

    # ---------------------------------------------------------- decisions ----
    def _decisions(self, elements, inputs: dict[str, DmnInput], functions):
        shapes = {}
        for element in elements:
            name = " ".join(element.get("name").split())
            logic = self._logic_element(element, element.get("id"), f"decision {name!r}")
            if logic is None:
                continue
            outputs = self.children(logic, "output") if split_tag(logic.tag)[1] == "decisionTable" else []
            shapes[name] = (element, logic, outputs)
        self.raise_if_any()
        names = self._output_names(shapes, inputs, functions)
        self.raise_if_any()

        decisions, tables, output_variables = {}, [], {}
        for name, (element, logic, _) in shapes.items():
            ident = element.get("id")
            variable = self.child(element, "variable")
            type_ = self.type_of(variable.get("typeRef") if variable is not None else None, ident)
            scope = self._scope(element, inputs, names, functions)
            meta = self._kade_metadata(element, "decision")
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
                        element_position(self.file, logic.get("id") or ident),
                    )
                    output = _infer_type(
                        OutputClause(single, base, (), None, element_position(self.file, ident)),
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
                        element_position(self.file, ident),
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
            )
        return decisions, tables, output_variables

    def _output_names(self, shapes, inputs, functions):
        """decision -> (((component, kade output), ...), kade output of a single value)."""
        taken = {v for i in inputs.values() for _, v, _ in i.paths} | set(functions) | set(shapes)
        claimed: set[str] = set()
        names: dict[str, tuple[tuple[tuple[str, str], ...], str | None]] = {}
        for name, (element, _, outputs) in shapes.items():
            if len(outputs) <= 1:
                own = outputs[0].get("name") if outputs and self.kade else None
                single = own or name
                if single in claimed or (single != name and single in taken):
                    self.fail(f"output name {single!r} of decision {name!r} is already used", element.get("id"))
                claimed.add(single)
                names[name] = ((), single)
                continue
            components = []
            for out in outputs:
                component = " ".join((out.get("name") or "").split())
                if not component:
                    self.fail(
                        f"decision {name!r} has several outputs, so each needs a name",
                        out.get("id") or element.get("id"),
                    )
                    continue
                kade_name = component if component not in taken and component not in claimed else f"{name}.{component}"
                if kade_name in claimed or (kade_name in taken and kade_name != component):
                    self.fail(
                        f"output {component!r} of decision {name!r} clashes with another name",
                        out.get("id") or element.get("id"),
                    )
                claimed.add(kade_name)
                components.append((component, kade_name))
            names[name] = (tuple(components), None)
        return names

    def _scope(self, element, inputs, names, functions) -> dict:
        """DMN name -> ('value', kade name) | ('function', bkm) | ('whole', what) for one decision."""
        ident = element.get("id")
        scope = _Scope(open=True)
        for target in self._required(element, "informationRequirement", "requiredInput", ident):
            found = self.by_id[target]
            name = " ".join(found.get("name").split())
            if name not in inputs:
                continue
            for path, kade_name, _ in inputs[name].paths:
                scope[".".join((name, *path))] = ("value", kade_name)
            if inputs[name].type is not None and inputs[name].type.structured:
                scope[name] = ("whole", f"the structured input {name!r}")
        for target in self._required(element, "informationRequirement", "requiredDecision", ident):
            name = " ".join(self.by_id[target].get("name").split())
            if name not in names:
                continue
            components, single = names[name]
            if single is not None:
                scope[name] = ("value", single)
            else:
                scope[name] = ("whole", f"the structured result of decision {name!r}")
                for component, kade_name in components:
                    scope[f"{name}.{component}"] = ("value", kade_name)
        for target in self._required(element, "knowledgeRequirement", "requiredKnowledge", ident):
            name = " ".join(self.by_id[target].get("name").split())
            if name in functions:
                scope[name] = ("function", functions[name])
        return scope

    def _output_variables(self, logic, table: DecisionTable, components, single) -> dict[str, Variable]:
        """Glossary entries kade's exporter attached to output clauses."""
        found = {}
        for out, clause in zip(self.children(logic, "output"), table.outputs):
            meta = self._kade_metadata(out, "variable")
            if meta is None:
                continue
            type_ = self.type_of(out.get("typeRef"), out.get("id"))
            found[clause.name] = Variable(
                clause.name,
                meta.get("entity"),
                split_alternatives(meta.get("headers", "")),
                clause.type,
                type_.allowed if type_ is not None else None,
                type_.allowed_values if type_ is not None else (),
                out.get("label", ""),
                self.description(out),
                element_position(self.file, out.get("id")),
                meta.get("records") or None,
                meta.get("compare") or None,
            )
        return found

    # ------------------------------------------------------- expressions -----
    def _dialect(self, scope: _Scope) -> feel.Dialect:
        names = set(scope)
        for kind, target in scope.values():
            if kind == "function":
                names.update(p for p, _ in target.parameters)
        return feel.Dialect.feel(names)

    def expression(self, text: str, scope: _Scope, where: str | None):
        """Parse and resolve a FEEL expression; None after recording a problem."""
        if not self._refuse_temporal(text, scope, where):
            return None
        try:
            node = feel.parse_expression(text, self._dialect(scope))
        except FeelSyntaxError as exc:
            self._syntax_problem(text, exc, where, unary=False)
            return None
        return self.resolve(node, scope, where)

    def unary_tests(self, text: str, scope: _Scope, where: str | None):
        if not self._refuse_temporal(text, scope, where):
            return None
        try:
            node = feel.parse_unary_tests(text, None, self._dialect(scope))
        except (FeelSyntaxError, FeelTypeError) as exc:
            self._syntax_problem(text, exc, where, unary=True)
            return None
        return self.resolve(node, scope, where)

    def _refuse_temporal(self, text: str, scope: _Scope, where) -> bool:
        """False (after recording why) when the text builds time, date-and-time or duration values."""
        bare = _STRINGS.sub('""', text)
        temporal = _TEMPORAL.search(bare)
        if temporal and " ".join(temporal.group(1).split()) not in scope:
            self.fail(
                f"{text.strip()!r} uses FEEL's {' '.join(temporal.group(1).split())}() values: kade supports number, "
                "string, boolean and date values",
                where,
                temporal.start(),
                unsupported=True,
            )
            return False
        return True

    def _syntax_problem(self, text: str, exc: RuleError, where, unary: bool):
        bare = _STRINGS.sub('""', text)
        checks = list(_FULL_FEEL)
        checks.append(
            (re.compile(r"\?"), "FEEL unary-test expressions with '?'")
            if unary
            else (re.compile(r"\["), "FEEL lists and filters ([…])")
        )
        for pattern, what in checks:
            if pattern.search(bare):
                self.fail(
                    f"{_shown(text)} uses {what}, which is beyond S-FEEL (DMN compliance level 2): not supported",
                    where,
                    exc.position.offset,
                    unsupported=True,
                )
                return
        self.fail(f"{_shown(text)}: {exc.message}", where, exc.position.offset)

    def resolve(self, node, scope: _Scope, where: str | None):
        """Rename DMN names to kade names; check calls. None after recording a problem."""
        problems: list[str] = []

        def rename(name: str):
            kind, target = scope.get(name, (None, None))
            if kind == "value":
                return target
            if kind == "function":
                problems.append(f"{name} is a business knowledge model: invoke it, {name}(…)")
            elif kind == "whole":
                problems.append(f"uses {target} as a whole: only its components (e.g. {name}.x) are supported")
            elif scope.open and name not in self.drg_names and "." not in name:
                self.implicit.setdefault(name, [])  # an undeclared variable (Camunda style): an implicit input
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
            self.fail("; ".join(dict.fromkeys(problems)), where, unsupported=unsupported)
            return None
        return resolved

    def _call(self, call: feel.Call, scope, walk, problems):
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

    def literal_expression(self, element, scope, where):
        language = element.get("expressionLanguage")
        if language and language not in FEEL_LANGUAGES:
            self.fail(f"expression language {language} is not FEEL", element.get("id") or where, unsupported=True)
            return None
        if self.child(element, "importedValues") is not None:
            self.fail("importedValues are not supported", element.get("id") or where, unsupported=True)
            return None
        text = self.text(element)
        if not text.strip():
            return feel.Literal(None, None, "null")  # an empty literal expression is null
        return self.expression(text, scope, element.get("id") or where)

    def invocation(self, element, scope, where):
        """A boxed invocation: the same as FEEL ``f(p1: e1, p2: e2)``."""
        here = element.get("id") or where
        target = self.child(element, "literalExpression")  # names the function
        function_name = " ".join(self.text(target).split()) if target is not None else ""
        kind, bkm = scope.get(function_name, (None, None))
        if kind != "function":
            self.fail(f"invocation of {function_name!r}: not a business knowledge model this decision requires", here)
            return None
        args = {}
        for binding in self.children(element, "binding"):
            parameter = self.child(binding, "parameter")
            pname = " ".join(parameter.get("name", "").split()) if parameter is not None else ""
            bound = self._logic_child(binding)
            if bound is None:
                args[pname] = feel.Literal(None, None, "null")
                continue
            if split_tag(bound.tag)[1] != "literalExpression":
                self.fail(
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
            self.fail(
                f"invocation binds {unknown[0]!r}, which is not a parameter of {function_name!r} ({', '.join(params)})",
                here,
            )
            return None
        return feel.Call(
            feel.Name(function_name), tuple(args.get(p, feel.Literal(None, None, "null")) for p in params), None
        )

    def _logic_child(self, element):
        for c in element:
            ns, local = split_tag(c.tag)
            if ns == self.ns and local not in ("parameter", "description", "extensionElements"):
                return c
        return None

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
        before = len(self.errors)
        policy_name = " ".join((element.get("hitPolicy") or "UNIQUE").split())
        aggregation = element.get("aggregation")
        if policy_name not in HIT_POLICY_LETTERS:
            self.fail(f"unknown hit policy {policy_name!r}", here)
            return None
        hit = HIT_POLICY_LETTERS[policy_name]
        if aggregation:
            if hit != "C" or aggregation not in AGGREGATIONS:
                self.fail(
                    f"aggregation {aggregation!r} with hit policy {policy_name}: only COLLECT takes SUM, MIN, MAX or COUNT",
                    here,
                )
                return None
            hit = AGGREGATIONS[aggregation]
        inputs = []
        for clause in self.children(element, "input"):
            where = clause.get("id") or here
            expression_element = self.child(clause, "inputExpression")
            text = self.text(expression_element) if expression_element is not None else ""
            expr = self.expression(
                text, scope, (expression_element.get("id") if expression_element is not None else None) or where
            )
            clause_type = self.type_of(
                expression_element.get("typeRef") if expression_element is not None else None, where
            )
            if clause_type is not None and (clause_type.structured or clause_type.collection):
                self.fail(f"input {text!r} is a structure or list: not supported", where, unsupported=True)
            values_element = self.child(clause, "inputValues")
            constraint = None
            if values_element is not None:
                constraint, _ = self.allowed_values(self.text(values_element), None, values_element.get("id") or where)
            if isinstance(expr, feel.Name) and expr.name in self.implicit:
                self.implicit[expr.name].append(clause_type.base if clause_type is not None else None)
            if expr is not None:
                inputs.append(
                    InputClause(
                        clause.get("label") or text.strip(),
                        expr,
                        clause_type.base if clause_type is not None else None,
                        element_position(self.file, where),
                    )
                )
                self.input_values.setdefault(name, []).append(constraint)
        outputs = []
        output_elements = self.children(element, "output")
        if not output_elements:
            self.fail("a decision table needs at least one output", here)
        for out in output_elements:
            where = out.get("id") or here
            if len(output_elements) == 1:
                assert single_output is not None  # _output_names() names every one-output table's output
                kade_name, declared = single_output, _element_type(type_)
            else:
                component = " ".join((out.get("name") or "").split())
                kade_name = components.get(component, component)
                declared = dict(type_.components).get(component) if type_ is not None and type_.structured else None
            own_type = self.type_of(out.get("typeRef"), where)
            clause_type = own_type or declared
            values_element = self.child(out, "outputValues")
            constraint = None
            if values_element is not None:
                constraint, allowed = self.allowed_values(
                    self.text(values_element),
                    clause_type.base if clause_type else None,
                    values_element.get("id") or where,
                )
            else:  # the type's allowed values stand in (DMN: output values default to the type's)
                allowed = clause_type.allowed_values if clause_type is not None else ()
            self.output_values[kade_name] = constraint
            default_element = self.child(out, "defaultOutputEntry")
            default = None
            if default_element is not None:
                default = self.literal_expression(default_element, scope, default_element.get("id") or where)
            outputs.append(
                OutputClause(
                    kade_name,
                    clause_type.base if clause_type is not None else None,
                    tuple(allowed),
                    default,
                    element_position(self.file, where),
                )
            )
            self.output_types[kade_name] = clause_type
        annotations = len(self.children(element, "annotation"))
        rules = []
        for index, rule in enumerate(self.children(element, "rule"), start=1):
            where = rule.get("id") or here
            entries = self.children(rule, "inputEntry")
            results = self.children(rule, "outputEntry")
            if len(entries) != len(inputs) or len(results) != len(output_elements):
                if len(self.errors) == before:
                    self.fail(
                        f"rule {index} has {len(entries)} input and {len(results)} output entries; the table has "
                        f"{len(inputs)} inputs and {len(output_elements)} outputs",
                        where,
                    )
                continue
            tests = []
            for entry in entries:
                language = entry.get("expressionLanguage")
                if language and language not in FEEL_LANGUAGES:
                    self.fail(f"expression language {language} is not FEEL", entry.get("id") or where, unsupported=True)
                tests.append(self.unary_tests(self.text(entry), scope, entry.get("id") or where))
            values = [self.literal_expression(r, scope, r.get("id") or where) for r in results]
            notes = [self.text(a).strip() for a in self.children(rule, "annotationEntry")]
            note = "; ".join(n for n in notes if n) if annotations or notes else self.description(rule)
            rule_id = rule.get("label") or rule.get("id") or f"R{index}"
            rules.append(
                Rule(rule_id, tuple(tests), tuple(values), note, element_position(self.file, rule.get("id") or here))
            )
        if not rules and len(self.errors) == before:
            self.fail("the decision table has no rules", here)
        if len(self.errors) > before:
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
            element_position(self.file, owner.get("id")),
        )


class _Scope(dict):
    """DMN name -> ('value', kade name) | ('function', bkm) | ('whole', what) for
    one element. In an ``open`` scope (a decision's) a name that no element of
    the model declares is an implicit input."""

    def __init__(self, entries=(), *, open: bool = False):
        super().__init__(entries)
        self.open = open


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


def _with_table(decision: DmnDecision, table: DecisionTable) -> DmnDecision:
    return dataclasses.replace(decision, table=table)


def normalize_allowed(test):
    """(test, literal values) the way the rule workbooks read allowed values
    (``engine.model.rulebook.parse_allowed``): one value is a list of one; a list of
    plain values gives them in order (the priority of P / O hit policies)."""
    if isinstance(test, feel.Compare):
        test = feel.AnyOf((test,))
    if isinstance(test, feel.AnyOf) and all(
        isinstance(t, feel.Compare) and t.op == "=" and isinstance(t.endpoint, feel.Literal) for t in test.tests
    ):
        return test, tuple(t.endpoint.value for t in test.tests)
    return test, ()


def _shown(text: str) -> str:
    """An expression quoted in a message, cut when long (a 100,000-term sum)."""
    text = text.strip()
    return repr(text) if len(text) <= 80 else repr(text[:80]) + "…"
