"""Build small rule and data workbooks for tests, in the shipped layout."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from openpyxl import Workbook

from engine.model.rulebook import add_decision_sheet, add_glossary_sheets


def write_rules(folder: Path, glossary: list[tuple], entities: list[tuple], tables: dict[str, list[tuple]]) -> Path:
    """glossary rows: (variable, entity, header, type, allowed); entities rows:
    (entity, sheet, key, parent, link); tables: file -> [(name, rows, hit, columns, rules, default)]
    with columns [(kind, header)], rules [(id, *cells, annotation)], default (marker, *outputs) or None."""
    folder.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    wb.remove(wb.active)
    add_glossary_sheets(wb, glossary, entities)
    wb.save(folder / "glossary.xlsx")
    for file, specs in tables.items():
        write_decision_sheets(folder / file, specs)
    return folder


def write_decision_sheets(path: Path, specs: list[tuple]) -> Path:
    """One workbook of decision sheets: specs [(name, rows, hit, columns, rules[, default])]."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows, hit, columns, rules, *rest in specs:
        add_decision_sheet(wb, name, rows, hit, columns, rules, rest[0] if rest else None)
    wb.save(path)
    return path


def write_data(path: Path, sheets: dict[str, list[list]]) -> Path:
    """sheets: name -> rows (first row = headers)."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


# A two-entity model used by several tests: clients (客户) and their orders (订单).
GLOSSARY = [
    ("client_id", "clients", "客户编号", "string", ""),
    ("revenue", "clients", "年收入", "number", ""),
    ("industry", "clients", "行业", "string", "金融, 政府, 其他"),
    ("tier", "clients", "等级", "string", '"gold", "silver"'),
    ("order_id", "orders", "订单编号", "string", ""),
    ("amount", "orders", "金额", "number", ""),
    ("urgent", "orders", "加急", "boolean", ""),
    ("due", "orders", "交付日期", "date", ""),
]
ENTITIES = [
    ("clients", "客户", "client_id", "", ""),
    ("orders", "订单", "order_id", "clients", "客户编号"),
]
TIER = (
    "tier",
    "clients",
    "F",
    [("input", "revenue"), ("input", "industry"), ("output", "tier")],
    [("T1", ">= 1000", '"金融"', '"gold"', "large finance clients"), ("T2", "-", "-", '"silver"', "everyone else")],
    None,
)
APPROVAL = (
    "approval",
    "orders",
    "U",
    [("input", "amount"), ("input", "tier"), ("output", "approver")],
    [
        ("A1", "< 100", "-", '"clerk"', "small orders"),
        ("A2", ">= 100", '"silver"', '"manager"', ""),
        ("A3", ">= 100", '"gold"', '"director"', ""),
    ],
    None,
)


def small_model(folder: Path, tables=None) -> Path:
    return write_rules(folder, GLOSSARY, ENTITIES, tables or {"rules.xlsx": [TIER, APPROVAL]})


def small_data(path: Path, clients=None, orders=None) -> Path:
    clients = (
        clients
        if clients is not None
        else [
            ["客户编号", "年收入", "行业"],
            ["C1", 2560, "金融"],
            ["C2", "1,200", "政府"],
            ["C3", 50, "金融"],
        ]
    )
    orders = (
        orders
        if orders is not None
        else [
            ["订单编号", "客户编号", "金额", "加急", "交付日期"],
            ["O1", "C1", 500, "是", "2026-01-31"],
            ["O2", "C2", 50, "否", None],
            ["O3", "C3", "1,2O0", "否", None],
            ["O4", "C9", 300, "否", None],
            ["O5", "C3", 150, "否", None],
        ]
    )
    return write_data(path, {"客户": clients, "订单": orders})


SAMPLE = Path(__file__).resolve().parent.parent / "workbooks" / "key_accounts.xlsx"


def repeated_clients(rows: int, path: Path) -> Path:
    """A workbook whose 客户 sheet has ``rows`` clients: the sample's, repeated with
    fresh keys (C00001...), so every row is a realistic client for the shipped rules."""
    sample = openpyxl.load_workbook(SAMPLE, data_only=True)["客户"]
    header, *body = [list(r) for r in sample.iter_rows(values_only=True)]
    body = [r for r in body if any(v is not None for v in r)]
    key = header.index("客户编号")
    wb = Workbook()
    ws = wb.active
    ws.title = "客户"
    ws.append(header)
    for i in range(rows):
        row = list(body[i % len(body)])
        row[key] = f"C{i + 1:05d}"
        ws.append(row)
    wb.save(path)
    return path
