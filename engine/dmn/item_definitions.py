"""What a model's typeRefs mean: FEEL base types, Any, and the model's item
definitions (allowed values, structures of item components, collections),
resolved into ``engine.dmn.types.FeelType``. Types kade does not evaluate (time,
durations, functions, lists inside structures...) are refused with the element."""

from __future__ import annotations

from engine import feel
from engine.dmn.reader import DmnDocument
from engine.dmn.scopes import Scope
from engine.dmn.screening import FeelReader
from engine.dmn.types import ANY_TYPES, BASE_TYPES, UNSUPPORTED_TYPES, FeelType, local_type_name


class ItemDefinitions:
    def __init__(self, doc: DmnDocument, feel_reader: FeelReader):
        self.doc, self.feel = doc, feel_reader
        self.elements: dict[str, object] = {}  # itemDefinition name -> element
        self._types: dict[str, FeelType | None] = {}
        self._resolving: set[str] = set()

    def add(self, element):
        self.elements[element.get("name", "")] = element

    def type_of(self, type_ref: str | None, where: str | None) -> FeelType | None:
        """The type a typeRef names; None for Any or no typeRef."""
        if not type_ref or not type_ref.strip():
            return None
        raw = " ".join(type_ref.split())
        for candidate in (raw, local_type_name(raw)):
            if candidate in self.elements:
                return self._item_definition(candidate, where)
        local = local_type_name(raw)
        if local in BASE_TYPES:
            return FeelType(local, BASE_TYPES[local])
        if local in ANY_TYPES:
            return None
        if local in UNSUPPORTED_TYPES:
            self.doc.fail(
                f"type {raw!r} is not supported: kade evaluates number, string, boolean and date values",
                where,
                unsupported=True,
            )
            return None
        self.doc.fail(f"unknown type {raw!r}: neither a FEEL type nor an itemDefinition of this model", where)
        return None

    def _item_definition(self, name: str, where: str | None) -> FeelType | None:
        if name in self._types:
            return self._types[name]
        if name in self._resolving:
            self.doc.fail(f"itemDefinition {name!r} is defined in terms of itself", where)
            return None
        self._resolving.add(name)
        try:
            resolved = self._read_type(self.elements[name], name, where)
        finally:
            self._resolving.discard(name)
        self._types[name] = resolved
        return resolved

    def _read_type(self, element, name: str, where: str | None) -> FeelType | None:
        here = element.get("id") or where
        collection = element.get("isCollection") == "true"
        if self.doc.child(element, "functionItem") is not None:
            self.doc.fail(f"type {name!r} is a function type: not supported", here, unsupported=True)
            return None
        components = self.doc.children(element, "itemComponent")
        if components:
            parts = tuple((c.get("name", ""), self._read_type(c, c.get("name", ""), here)) for c in components)
            if any(t is not None and t.collection for _, t in parts):
                self.doc.fail(
                    f"type {name!r} has a collection component: lists inside structures are not supported",
                    here,
                    unsupported=True,
                )
            return FeelType(name, None, components=parts, collection=collection)
        type_ref = self.doc.child(element, "typeRef")
        inner = self.type_of((type_ref.text or "") if type_ref is not None else element.get("typeRef"), here)
        if inner is not None and inner.collection and collection:
            self.doc.fail(f"type {name!r} is a list of lists: not supported", here, unsupported=True)
            return None
        base = inner.base if inner is not None else None
        allowed, values, text = (
            (inner.allowed, inner.allowed_values, inner.allowed_text) if inner is not None else (None, (), "")
        )
        constraint = self.doc.child(element, "allowedValues")
        if constraint is None:
            constraint = self.doc.child(element, "typeConstraint")
            if constraint is not None and collection:
                self.doc.fail(
                    f"type {name!r}: a typeConstraint on a collection is not supported", here, unsupported=True
                )
        if constraint is not None:
            text = self.doc.text(constraint)
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
        test = self.feel.unary_tests(text, Scope(), where)
        if test is None or isinstance(test, feel.AnyTest):
            return None, ()
        return normalize_allowed(test)


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
