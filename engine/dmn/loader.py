"""Load a DMN model (.dmn, DMN 1.1 to 1.5) into kade's rule model.

What is read (compliance level 2): input data, decisions with a decision table,
a literal expression or a boxed invocation as their logic, business knowledge
models (literal-expression or decision-table body) and their invocation,
information and knowledge requirements, item definitions (base types, allowed
values, structures, collections). FEEL text is S-FEEL as ``engine.feel`` reads
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

The work is done by: ``reader`` (the XML), ``item_definitions`` (types),
``scopes`` (names), ``screening`` (FEEL kade evaluates) and ``convert``
(elements into kade's model); this module puts them in order.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from engine.dmn.convert import Converter
from engine.dmn.item_definitions import ItemDefinitions
from engine.dmn.model import DmnInput, DmnModel
from engine.dmn.reader import DmnDocument, dmn_name
from engine.dmn.scopes import Resolver
from engine.dmn.screening import FeelReader
from engine.dmn.types import FeelType
from engine.dmn.xml import FEEL_LANGUAGES, KADE_NS, read_xml, split_tag
from engine.model import Entity, Variable
from engine.model.rulebook import build_ruleset, split_alternatives

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


def load_dmn(source: str | Path | bytes, *, name: str | None = None) -> DmnModel:
    """Read a .dmn file (or its bytes) into a ``DmnModel``.

    Raises ``DmnXmlError`` for unreadable or unsafe XML, ``UnsupportedDmnError``
    for constructs beyond compliance level 2, ``DmnError`` / ``RuleError`` for an
    invalid model; several problems come together as ``RuleErrors``."""
    label = name or ("<memory>" if isinstance(source, bytes) else str(source))
    doc = DmnDocument(read_xml(source), label)
    root = doc.root
    for attr in ("expressionLanguage", "typeLanguage"):
        language = root.get(attr)
        if language and language not in FEEL_LANGUAGES:
            doc.fail(f"{attr} {language} is not FEEL: only FEEL models are supported", root.get("id"), unsupported=True)
    elements, item_elements = _elements(doc)
    doc.raise_if_any()

    doc.by_id = {e.get("id"): e for group in elements.values() for e in group if e.get("id")}
    _check_names(doc, elements)
    doc.raise_if_any()
    resolver = Resolver(doc, {dmn_name(e) for group in elements.values() for e in group})
    feel_reader = FeelReader(doc, resolver)
    items = ItemDefinitions(doc, feel_reader)
    for element in item_elements:
        items.add(element)
    convert = Converter(doc, items, feel_reader, resolver)
    entities = _entities(doc)
    inputs, variables = convert.inputs(elements["inputData"])
    convert.types.update({v.name: v.type for v in variables.values()})
    functions = convert.functions(elements["businessKnowledgeModel"])
    for where, why in feel_reader.take_value_errors():  # outside a decision: nothing to make null
        doc.fail(why, where)
    doc.raise_if_any()
    decisions, tables, output_variables = convert.decisions(elements["decision"], inputs, functions)
    doc.raise_if_any()
    variables.update(output_variables)
    notes = _typed_from_use(inputs, variables, convert.clause_types)
    notes += _undeclared_inputs(resolver.implicit, convert.clause_types, inputs, variables)
    rules = build_ruleset(variables, entities, tables, [doc.file])
    ordered = {t.name: t for t in rules.decisions}  # typed by build_ruleset
    decisions = {n: dataclasses.replace(d, table=ordered[d.table.name]) for n, d in decisions.items()}
    return DmnModel(
        root.get("name", ""),
        root.get("namespace", ""),
        doc.file,
        doc.version,
        rules,
        inputs,
        decisions,
        functions,
        doc.kade,
        notes,
    )


def _elements(doc: DmnDocument) -> tuple[dict[str, list], list]:
    """The model's DRG elements by kind, and its item definitions; refuses imports,
    decision services and elements kade does not know."""
    elements: dict[str, list] = {"inputData": [], "decision": [], "businessKnowledgeModel": []}
    item_elements = []
    for element in doc.root:
        ns, local = split_tag(element.tag)
        if ns != doc.ns:
            continue  # DMNDI diagrams and foreign extensions
        if local == "itemDefinition":
            item_elements.append(element)
        elif local in elements:
            elements[local].append(element)
        elif local == "import":
            doc.fail(
                f"import of {element.get('locationURI') or element.get('namespace')}: DMN imports are not supported",
                element.get("id"),
                unsupported=True,
            )
        elif local == "decisionService":
            doc.fail(f"decision service {element.get('name')!r} is not supported", element.get("id"), unsupported=True)
        elif local not in DOCUMENTATION_ONLY:
            doc.fail(f"element {local} is not supported", element.get("id"), unsupported=True)
    return elements, item_elements


def _check_names(doc: DmnDocument, elements: dict[str, list]):
    seen: dict[str, str] = {}
    for group in elements.values():
        for element in group:
            name = dmn_name(element)
            if not name:
                doc.fail(f"{split_tag(element.tag)[1]} without a name", element.get("id"))
            elif name in seen:
                doc.fail(f"two elements are named {name!r} (also #{seen[name]})", element.get("id"))
            else:
                seen[name] = element.get("id") or "?"


def _entities(doc: DmnDocument) -> dict[str, Entity]:
    model = doc.kade_metadata(doc.root, "model")
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


def _single_type(types) -> str | None:
    found = {t for t in types or () if t is not None}
    return found.pop() if len(found) == 1 else None


def _undeclared_inputs(implicit: dict, clause_types: dict, inputs: dict, variables: dict) -> list[str]:
    """Names no element declares, read as inputs the way Camunda's engine reads
    process variables (``claim.amountOfDamage``: field amountOfDamage of input
    ``claim``); typed by the input clauses that read them directly. Returns a
    note for each."""
    notes = []
    for name in implicit:
        root, _, field = name.partition(".")
        path = tuple(field.split(".")) if field else ()
        base = _single_type(clause_types.get(name))
        type_ = FeelType(base, base) if base else None
        if root in inputs:  # a field of an input data without a type
            inputs[root] = dataclasses.replace(inputs[root], paths=(*inputs[root].paths, (path, name, type_)))
            what = f"field {field} of input {root}"
        else:
            inputs[root] = DmnInput(root, "", None if path else type_, ((path, name, type_),))
            what = "an input" if not path else f"field {field} of an input {root}"
        variables[name] = Variable(name, None, (), base, None, (), "", "not declared as input data in the model")
        notes.append(
            f"{name} is not declared as input data: it is read as {what}"
            + (f" of type {base}" if base else " of any type")
        )
    return notes


def _typed_from_use(inputs: dict, variables: dict, clause_types: dict) -> list[str]:
    """Input data without a type (Any in DMN) get, as glossary variables, the type
    of the input clauses that read them (so a rule workbook can hold them)."""
    notes = []
    for dmn_input in inputs.values():
        for _, name, type_ in dmn_input.paths:
            base = _single_type(clause_types.get(name))
            if type_ is None and variables[name].type is None and base is not None:
                variables[name] = dataclasses.replace(variables[name], type=base)
                notes.append(f"input {name} has no type: its input clauses read it as {base}")
    return notes
