"""Write a RuleSet (loaded from rules/*.xlsx) as a DMN 1.3, 1.4 or 1.5 model that
other modellers open (1.3 by default: Camunda Modeler and dmn-js read only that): the glossary becomes input data with item definitions carrying
the allowed values (also written as each table input's ``inputValues``: its
domain), each decision table a decision with its information
requirements, hit policy, rules, annotations and default output.

kade's own metadata - entities, a variable's entity and column headers,
whether it is required, a computed value's formula, rule ids, output names - rides in ``extensionElements`` (namespace
``dmn_xml.KADE_NS``), which the DMN schemas allow and other tools ignore;
``engine.dmn.loader`` reads it back, so Excel -> DMN -> Excel gives the same tables.

Names: another decision's output is referenced in DMN as the decision
(``solution_routing`` for its single output ``route``) or as a component of it
(``sla_terms.access_work_days``); the text of every cell is rewritten so.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from engine import feel
from engine.dmn.diagram import DC, DI, diagram
from engine.dmn.errors import DmnError
from engine.dmn.xml import DEFAULT_EXPORT_VERSION, EXPORT_VERSIONS, KADE_NS
from engine.model import AGGREGATING, HIT_POLICIES, DecisionTable, RuleSet, Variable
from engine.model.graph import referenced_names

# DMN writes a collect-and-aggregate policy as COLLECT plus an aggregation (C+ -> COLLECT, SUM)
_AGGREGATION = {code: name.split()[1] for code, name in HIT_POLICIES.items() if code in AGGREGATING}
_POLICY_NAMES = {code: "COLLECT" if code in AGGREGATING else name for code, name in HIT_POLICIES.items()}


def export_dmn(
    rules: RuleSet,
    *,
    name: str = "kade rules",
    namespace: str = "urn:kade:rules",
    dmn_version: str = DEFAULT_EXPORT_VERSION,
) -> bytes:
    """The DMN XML (UTF-8 bytes) of ``rules``, in ``dmn_version`` ('1.3', '1.4' or '1.5')."""
    if dmn_version not in EXPORT_VERSIONS:
        raise DmnError(f"DMN version {dmn_version!r}: kade writes {', '.join(EXPORT_VERSIONS)}")
    model_ns, dmndi = EXPORT_VERSIONS[dmn_version]
    root = _Exporter(rules, name, namespace, model_ns, dmndi).build()
    # prefixes for serializing: DMN as the default namespace (as modellers write it), kade: for extensions
    for prefix, uri in {"": model_ns, "kade": KADE_NS, "dmndi": dmndi, "dc": DC, "di": DI}.items():
        ET.register_namespace(prefix, uri)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write_dmn(rules: RuleSet, path: str | Path, **options) -> Path:
    """Write ``export_dmn(rules)`` to ``path``; returns the path."""
    from engine.io.writers import atomic_path

    path = Path(path)
    content = export_dmn(rules, **options)
    with atomic_path(path) as tmp:  # a missing folder is made; a half-written file never stays
        tmp.write_bytes(content)
    return path


def _k(local: str) -> str:
    return f"{{{KADE_NS}}}{local}"


def _sub(parent, local: str, text: str | None = None, **attrs) -> ET.Element:
    """A DMN element ``local`` (in its parent's namespace) under ``parent``."""
    ns = parent.tag[1:].partition("}")[0]
    element = ET.SubElement(
        parent, f"{{{ns}}}{local}", {k.rstrip("_"): v for k, v in attrs.items() if v not in (None, "")}
    )
    if text is not None:
        element.text = text
    return element


def _text(parent, local: str, text: str, **attrs) -> ET.Element:
    element = _sub(parent, local, **attrs)
    _sub(element, "text", text)
    return element


class _Ids:
    """Unique xsd:ID values from names (which may be Chinese or have spaces)."""

    def __init__(self):
        self.used: set[str] = set()

    def __call__(self, prefix: str, name: str) -> str:
        slug = re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip("_") or "x"
        candidate, k = f"{prefix}_{slug}", 2
        while candidate in self.used:
            candidate, k = f"{prefix}_{slug}_{k}", k + 1
        self.used.add(candidate)
        return candidate


class _Exporter:
    def __init__(self, rules: RuleSet, name: str, namespace: str, model_ns: str, dmndi: str):
        self.rules, self.name, self.namespace = rules, name, namespace
        self.model_ns, self.dmndi = model_ns, dmndi
        self.ids = _Ids()
        self.producer = {out: t for t in rules.decisions for out in t.output_names}
        self.input_ids: dict[str, str] = {}
        self.decision_ids = {t.name: self.ids("d", t.name) for t in rules.decisions}
        self.type_names: dict[str, str] = {}  # variable -> itemDefinition name
        self.requires: dict[str, list[str]] = {}  # decision id -> ids of the decisions it requires (for the diagram)
        self.edges: list[tuple[str, str, str]] = []  # (requirement id, required element id, decision id)

    def dmn_name(self, kade_name: str) -> str:
        """How DMN text refers to a kade name."""
        table = self.producer.get(kade_name)
        if table is None:
            return kade_name
        return table.name if len(table.outputs) == 1 else f"{table.name}.{kade_name}"

    def expression(self, node) -> str:
        return feel.expression_text(feel.map_names(node, self.dmn_name))

    def tests(self, node) -> str:
        return feel.unary_tests_text(feel.map_names(node, self.dmn_name))

    # ------------------------------------------------------------------------
    def build(self) -> ET.Element:
        root = ET.Element(
            f"{{{self.model_ns}}}definitions",
            {"id": self.ids("definitions", self.name), "name": self.name, "namespace": self.namespace},
        )
        self._metadata(root)
        for variable in self.rules.variables.values():
            if variable.allowed is not None:
                self._item_definition(root, variable)
        for table in self.rules.decisions:
            self._decision_type(root, table)
        inputs = self._input_groups()
        for name, members in inputs.items():
            if members[0].name != name:
                self._structure_type(root, name, members)
        for name, members in inputs.items():
            self._input_data(root, name, members)
        for table in self.rules.decisions:
            self._decision(root, table)
        root.append(diagram(self.requires, list(dict.fromkeys(self.input_ids.values())), self.edges, self.dmndi))
        return root

    def _metadata(self, root):
        ext = _sub(root, "extensionElements")
        model = ET.SubElement(ext, _k("model"))
        for entity in self.rules.entities.values():
            attrs = {"name": entity.name, "sheets": " | ".join(entity.sheets), "key": entity.key}
            if entity.parent:
                attrs["parent"] = entity.parent
            if entity.link:
                attrs["link"] = " | ".join(entity.link)
            ET.SubElement(model, _k("entity"), attrs)

    def _item_definition(self, root, variable: Variable):
        name = self.ids("t", variable.name)
        self.type_names[variable.name] = name
        item = _sub(root, "itemDefinition", name=name, label=f"allowed values of {variable.name}")
        _sub(item, "typeRef", variable.type)
        _text(item, "allowedValues", feel.unary_tests_text(variable.allowed))

    def type_ref(self, name: str, type_: str | None) -> str | None:
        return self.type_names.get(name) or type_

    def _declared_type(self, table: DecisionTable, k: int) -> str | None:
        """An output's type when it is known, not guessed: from the glossary, or
        because every entry is a literal of that type."""
        clause = table.outputs[k]
        variable = self.rules.variables.get(clause.name)
        if variable is not None:
            return variable.type
        entries = [r.outputs[k] for r in table.rules] + ([clause.default] if clause.default is not None else [])
        types = {e.type for e in entries if isinstance(e, feel.Literal) and e.type is not None}
        if len(types) == 1 and all(isinstance(e, feel.Literal) for e in entries):
            return types.pop()
        return None

    def _decision_type(self, root, table: DecisionTable):
        """A collection or structure type for a decision whose value is a list or a context."""
        collects = table.hit_policy in ("C", "R", "O")
        if len(table.outputs) == 1 and not collects:
            return
        name = self.ids("t", table.name)
        self.type_names[f"decision {table.name}"] = name
        item = _sub(root, "itemDefinition", name=name, isCollection="true" if collects else None)
        if len(table.outputs) == 1:
            declared = self.type_ref(table.outputs[0].name, self._declared_type(table, 0))
            if declared:
                _sub(item, "typeRef", declared)
            return
        for k, clause in enumerate(table.outputs):
            component = _sub(item, "itemComponent", id=self.ids("c", f"{table.name}.{clause.name}"), name=clause.name)
            declared = self.type_ref(clause.name, self._declared_type(table, k))
            if declared:
                _sub(component, "typeRef", declared)

    def _input_groups(self) -> dict[str, list[Variable]]:
        """Input data name -> its glossary variables: the variable itself, or the
        components of a structure (``Loan.amount``, ``Loan.rate`` -> input ``Loan``)."""
        groups: dict[str, list[Variable]] = {}
        for variable in self.rules.variables.values():
            if variable.name in self.producer:
                continue
            head = variable.name.split(".")[0]
            structured = head != variable.name and head not in self.rules.variables and head not in self.producer
            groups.setdefault(head if structured else variable.name, []).append(variable)
        return groups

    def _structure_type(self, root, name: str, members: list[Variable]):
        """An itemDefinition with one item component per member (nested along the path)."""
        self.type_names[name] = self.ids("t", name)
        item = _sub(root, "itemDefinition", name=self.type_names[name])
        for variable in members:
            parent = item
            for step in variable.name.split(".")[1:]:
                found = [c for c in parent if c.get("name") == step]
                parent = (
                    found[0] if found else _sub(parent, "itemComponent", id=self.ids("c", f"{name}.{step}"), name=step)
                )
            declared = self.type_ref(variable.name, variable.type)
            if declared:
                _sub(parent, "typeRef", declared)

    def _input_data(self, root, name: str, members: list[Variable]):
        ident = self.ids("i", name)
        whole = members[0] if members[0].name == name else None
        for variable in members:
            self.input_ids[variable.name] = ident
        element = _sub(root, "inputData", id=ident, name=name, label=whole.label if whole else None)
        if whole is not None and whole.description:
            _sub(element, "description", whole.description)
        self._variable_metadata(element, members[0], fields=[] if whole else members)
        _sub(
            element,
            "variable",
            id=self.ids("v", name),
            name=name,
            typeRef=self.type_ref(name, whole.type if whole else None),
        )

    def _variable_metadata(self, element, variable: Variable, fields: Sequence[Variable] = ()):
        """kade's glossary columns of ``variable`` (of each component of a structured input: ``fields``)."""
        ext = _sub(element, "extensionElements")
        meta = ET.SubElement(ext, _k("variable"), _glossary_attributes(variable, whole=not fields))
        for field in fields:
            attrs = {"path": field.name.partition(".")[2], **_glossary_attributes(field, whole=True)}
            if field.label:
                attrs["label"] = field.label
            if field.description:
                attrs["description"] = field.description
            ET.SubElement(meta, _k("field"), attrs)

    def _decision(self, root, table: DecisionTable):
        ident = self.decision_ids[table.name]
        element = _sub(root, "decision", id=ident, name=table.name, label=table.title)
        if table.entity:
            ext = _sub(element, "extensionElements")
            ET.SubElement(ext, _k("decision"), {"entity": table.entity})
        type_ref: str | None
        if f"decision {table.name}" in self.type_names:
            type_ref = self.type_names[f"decision {table.name}"]
        else:
            type_ref = self.type_ref(table.outputs[0].name, self._declared_type(table, 0))
        _sub(element, "variable", id=self.ids("v", table.name), name=table.name, typeRef=type_ref)
        required: dict[
            str, str
        ] = {}  # element id -> 'requiredDecision' | 'requiredInput'; two outputs, one requirement
        for name in sorted(referenced_names(table)):
            if name in self.producer and self.producer[name] is not table:
                required.setdefault(self.decision_ids[self.producer[name].name], "requiredDecision")
            elif name in self.input_ids:
                required.setdefault(self.input_ids[name], "requiredInput")
        self.requires[ident] = [i for i, kind in required.items() if kind == "requiredDecision"]
        for target, kind in required.items():
            requirement_id = self.ids("ir", f"{table.name}_{target}")
            requirement = _sub(element, "informationRequirement", id=requirement_id)
            _sub(requirement, kind, href="#" + target)
            self.edges.append((requirement_id, target, ident))
        self._table(element, table)

    def _table(self, decision, table: DecisionTable):
        dt_element = _sub(
            decision,
            "decisionTable",
            id=self.ids("dt", table.name),
            hitPolicy=_POLICY_NAMES[table.hit_policy],
            aggregation=_AGGREGATION.get(table.hit_policy),
            outputLabel=table.title or table.name,
        )
        for clause in table.inputs:
            inp = _sub(dt_element, "input", id=self.ids("in", f"{table.name}_{clause.label}"), label=clause.label)
            _text(inp, "inputExpression", self.expression(clause.expr), typeRef=clause.type)
            variable = self.rules.variables.get(clause.expr.name) if isinstance(clause.expr, feel.Name) else None
            if variable is not None and variable.allowed is not None and variable.name not in self.producer:
                _text(inp, "inputValues", feel.unary_tests_text(variable.allowed))  # the input's domain
        for k, output in enumerate(table.outputs):
            variable = self.rules.variables.get(output.name)
            out = _sub(
                dt_element,
                "output",
                id=self.ids("out", f"{table.name}_{output.name}"),
                label=variable.label if variable is not None else None,
                name=output.name,
                typeRef=self.type_ref(output.name, self._declared_type(table, k)),
            )
            if variable is not None:  # the output is a glossary entry: keep it whole
                if variable.description:
                    out.insert(0, ET.Element(f"{{{self.model_ns}}}description"))
                    out[0].text = variable.description
                self._variable_metadata(out, variable)
            if output.allowed_values:
                text = (
                    feel.unary_tests_text(variable.allowed)
                    if variable is not None and variable.allowed is not None
                    else ", ".join(feel.literal_text(feel.Literal(v, _literal_type(v))) for v in output.allowed_values)
                )
                _text(out, "outputValues", text)
            if output.default is not None:
                _text(out, "defaultOutputEntry", self.expression(output.default))
        _sub(dt_element, "annotation", name="annotation")
        for rule in table.rules:
            element = _sub(dt_element, "rule", id=self.ids("r", f"{table.name}_{rule.id}"), label=rule.id)
            for test in rule.inputs:
                _text(element, "inputEntry", self.tests(test))
            for value in rule.outputs:
                _text(element, "outputEntry", self.expression(value))
            _text(element, "annotationEntry", rule.annotation)


def _glossary_attributes(variable: Variable, *, whole: bool) -> dict[str, str]:
    """entity, headers, records, compare, required, computed of a glossary variable (only its entity for a structure)."""
    values = {"entity": variable.entity}
    if whole:
        values.update(headers=" | ".join(variable.headers), records=variable.records, compare=variable.compare)
        if variable.required:
            values["required"] = "true"
        if variable.computed is not None:  # computed from the rules by kade; other tools see an input
            values["computed"] = variable.computed.text
    return {k: v for k, v in values.items() if v}


def _literal_type(value) -> str | None:
    import datetime as dt

    if isinstance(value, bool):
        return feel.BOOLEAN
    if isinstance(value, (int, float)):
        return feel.NUMBER
    if isinstance(value, dt.date):
        return feel.DATE
    return feel.STRING if value is not None else None
