"""Reading DMN XML safely, and the vocabulary shared by import and export:
namespaces of DMN 1.1 to 1.5, FEEL's language URIs, kade's extension namespace.

Parsing goes through defusedxml with DTDs forbidden: no entity expansion (the
"billion laughs"), no external entities or DTDs, so a .dmn file can only be data.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import defusedxml
import defusedxml.ElementTree as SafeET

from engine.dmn.errors import DmnXmlError
from engine.errors import Position

# model namespace -> DMN version
DMN_NAMESPACES = {
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd": "1.1",
    "http://www.omg.org/spec/DMN/20180521/MODEL/": "1.2",
    "https://www.omg.org/spec/DMN/20191111/MODEL/": "1.3",
    "https://www.omg.org/spec/DMN/20211108/MODEL/": "1.4",
    "https://www.omg.org/spec/DMN/20230324/MODEL/": "1.5",
}
DMN15 = "https://www.omg.org/spec/DMN/20230324/MODEL/"
FEEL_LANGUAGES = {
    "http://www.omg.org/spec/FEEL/20140401",
    "http://www.omg.org/spec/DMN/20180521/FEEL/",
    "https://www.omg.org/spec/DMN/20191111/FEEL/",
    "https://www.omg.org/spec/DMN/20211108/FEEL/",
    "https://www.omg.org/spec/DMN/20230324/FEEL/",
}
FEEL15 = "https://www.omg.org/spec/DMN/20230324/FEEL/"
# what an exported model declares, by DMN version: (model namespace, diagram (DMNDI) namespace)
EXPORT_VERSIONS = {
    "1.3": ("https://www.omg.org/spec/DMN/20191111/MODEL/", "https://www.omg.org/spec/DMN/20191111/DMNDI/"),
    "1.4": ("https://www.omg.org/spec/DMN/20211108/MODEL/", "https://www.omg.org/spec/DMN/20191111/DMNDI/"),
    "1.5": (DMN15, "https://www.omg.org/spec/DMN/20230324/DMNDI/"),
}
# Camunda Modeler and dmn-js (through dmn-moddle) read DMN 1.3 only, and nothing kade
# writes needs 1.4 or 1.5: 1.3 opens everywhere
DEFAULT_EXPORT_VERSION = "1.3"
# kade's own metadata (entities, glossary columns, rule ids) rides in extensionElements
KADE_NS = "urn:kade:dmn-extension:1"


def read_xml(source: str | Path | bytes) -> ET.Element:
    """The root element of an XML file (path) or document (bytes)."""
    name = "<memory>" if isinstance(source, bytes) else str(source)
    try:
        if isinstance(source, bytes):
            return SafeET.fromstring(source, forbid_dtd=True)
        return SafeET.parse(str(source), forbid_dtd=True).getroot()
    except (defusedxml.DTDForbidden, defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden) as exc:
        raise DmnXmlError(
            f"refused: the document declares a DTD or entities ({type(exc).__name__}); DMN needs neither",
            Position(file=name),
        ) from None
    except ET.ParseError as exc:
        line, column = exc.position
        raise DmnXmlError(
            f"not well-formed XML at line {line}, column {column + 1}: {exc.msg if hasattr(exc, 'msg') else exc}",
            Position(file=name),
        ) from None
    except OSError as exc:
        raise DmnXmlError(f"cannot read: {exc.strerror or exc}", Position(file=name)) from None


def split_tag(tag) -> tuple[str, str]:
    """'{ns}local' -> (ns, local); comments and processing instructions give ('', '')."""
    if not isinstance(tag, str):
        return "", ""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag
