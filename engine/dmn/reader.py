"""A DMN model's XML as the loader reads it: elements in the model's namespace,
kade's own metadata in ``extensionElements``, references between elements, and
the problems found on the way (each names the file and the element's id)."""

from __future__ import annotations

from engine.dmn.errors import DmnError, UnsupportedDmnError, element_position
from engine.dmn.xml import DMN_NAMESPACES, KADE_NS, split_tag
from engine.errors import ErrorCollector


def dmn_name(element) -> str:
    """An element's name with its white space normalized (as FEEL names compare)."""
    return " ".join((element.get("name") or "").split())


class DmnDocument:
    def __init__(self, root, file: str):
        ns, local = split_tag(root.tag)
        if local != "definitions" or ns not in DMN_NAMESPACES:
            raise DmnError(
                f"not a DMN 1.1–1.5 model: the root element is {{{ns}}}{local}, expected definitions in one of "
                + ", ".join(DMN_NAMESPACES),
                element_position(file, None),
            )
        self.root, self.file = root, file
        self.ns, self.version = ns, DMN_NAMESPACES[ns]
        self.errors = ErrorCollector()
        self.by_id: dict[str, object] = {}  # id -> input data, decision or business knowledge model
        self.kade = self.kade_metadata(root, "model") is not None  # written by kade's exporter

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

    def description(self, element) -> str:
        node = self.child(element, "description")
        return (node.text or "").strip() if node is not None else ""

    def fail(self, message: str, where: str | None, offset: int | None = None, *, unsupported: bool = False):
        cls = UnsupportedDmnError if unsupported else DmnError
        self.errors.add(cls(message, element_position(self.file, where, offset)))

    def raise_if_any(self):
        self.errors.raise_if_any()

    def kade_metadata(self, element, local: str):
        """kade's extension element ``local`` under ``element``'s extensionElements, if any."""
        ext = self.child(element, "extensionElements") if element is not None else None
        if ext is None:
            return None
        for c in ext:
            if c.tag == f"{{{KADE_NS}}}{local}":
                return c
        return None

    def logic_child(self, element):
        """The expression element bound in a binding (after its parameter)."""
        for c in element:
            ns, local = split_tag(c.tag)
            if ns == self.ns and local not in ("parameter", "description", "extensionElements"):
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

    def required(self, element, requirement: str, target: str, where: str) -> list[str]:
        """Ids of the elements ``element`` requires (``requirement``/``target``:
        informationRequirement/requiredInput, .../requiredDecision, knowledgeRequirement/requiredKnowledge)."""
        ids = []
        for req in self.children(element, requirement):
            for ref in self.children(req, target):
                ident = self.href_id(ref, req.get("id") or where)
                if ident is None:
                    continue
                if ident not in self.by_id:
                    self.fail(f"{requirement} refers to #{ident}, which is not in the model", req.get("id") or where)
                    continue
                if ident not in ids:  # a requirement written twice is one requirement
                    ids.append(ident)
        return ids

    def required_names(self, element, requirement: str, target: str) -> list[str]:
        return [dmn_name(self.by_id[i]) for i in self.required(element, requirement, target, element.get("id"))]
