"""A decision requirements diagram (DMNDI) for an exported model, so that
modellers show the DRD instead of an empty canvas: decisions in layers by
dependency depth (the ones nothing depends on at the top), input data in rows
beneath them, one edge per information requirement."""

from __future__ import annotations

import xml.etree.ElementTree as ET

DC = "http://www.omg.org/spec/DMN/20180521/DC/"  # the same in DMN 1.2 to 1.5
DI = "http://www.omg.org/spec/DMN/20180521/DI/"

DECISION = (180, 80)  # width, height
INPUT = (160, 50)
GAP_X, GAP_Y, MARGIN = 40, 80, 40
INPUTS_PER_ROW = 10


def diagram(
    decisions: dict[str, list[str]], inputs: list[str], edges: list[tuple[str, str, str]], dmndi: str
) -> ET.Element:
    """The dmndi:DMNDI element in namespace ``dmndi`` (the model's DMN version's). ``decisions``: decision id -> ids of the decisions
    it requires; ``inputs``: input data ids; ``edges``: (requirement id, from id, to id)."""
    depth: dict[str, int] = {}

    def level(ident: str, seen=()) -> int:
        if ident not in depth:
            depth[ident] = 1 + max((level(d, (*seen, ident)) for d in decisions[ident] if d not in seen), default=-1)
        return depth[ident]

    for ident in decisions:
        level(ident)
    top = max(depth.values(), default=0)
    bounds: dict[str, tuple[float, float, float, float]] = {}
    layers: dict[int, list[str]] = {}
    for ident in decisions:
        layers.setdefault(top - depth[ident], []).append(ident)
    for row, members in sorted(layers.items()):
        for k, ident in enumerate(members):
            bounds[ident] = (MARGIN + k * (DECISION[0] + GAP_X), MARGIN + row * (DECISION[1] + GAP_Y), *DECISION)
    first_input_row = MARGIN + (top + 1) * (DECISION[1] + GAP_Y)
    for k, ident in enumerate(inputs):
        row, col = divmod(k, INPUTS_PER_ROW)
        bounds[ident] = (MARGIN + col * (INPUT[0] + GAP_X), first_input_row + row * (INPUT[1] + GAP_Y), *INPUT)

    root = ET.Element(f"{{{dmndi}}}DMNDI")
    canvas = ET.SubElement(root, f"{{{dmndi}}}DMNDiagram", {"id": "kade_drd", "name": "decision requirements"})
    width = max((x + w for x, _, w, _ in bounds.values()), default=0) + MARGIN
    height = max((y + h for _, y, _, h in bounds.values()), default=0) + MARGIN
    ET.SubElement(canvas, f"{{{dmndi}}}Size", {"width": _n(width), "height": _n(height)})
    for ident, (x, y, w, h) in bounds.items():
        shape = ET.SubElement(canvas, f"{{{dmndi}}}DMNShape", {"id": f"shape_{ident}", "dmnElementRef": ident})
        ET.SubElement(shape, f"{{{DC}}}Bounds", {"x": _n(x), "y": _n(y), "width": _n(w), "height": _n(h)})
    for requirement, source, target in edges:
        if source not in bounds or target not in bounds:
            continue
        sx, sy, sw, _ = bounds[source]
        tx, ty, tw, th = bounds[target]
        edge = ET.SubElement(canvas, f"{{{dmndi}}}DMNEdge", {"id": f"edge_{requirement}", "dmnElementRef": requirement})
        ET.SubElement(edge, f"{{{DI}}}waypoint", {"x": _n(sx + sw / 2), "y": _n(sy)})  # top of the required element
        ET.SubElement(edge, f"{{{DI}}}waypoint", {"x": _n(tx + tw / 2), "y": _n(ty + th)})  # bottom of the decision
    return root


def _n(value: float) -> str:
    return f"{value:.1f}"
