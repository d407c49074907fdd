import pytest
from openpyxl import Workbook


@pytest.fixture
def write_xlsx(tmp_path):
    """write_xlsx("rules/x.xlsx", {"Sheet": [[row values], ...]}) -> path of a new workbook."""
    def write(relpath: str, sheets: dict[str, list[list]]):
        path = tmp_path / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        wb = Workbook()
        wb.remove(wb.active)
        for title, rows in sheets.items():
            ws = wb.create_sheet(title)
            for row in rows:
                ws.append(row)
        wb.save(path)
        return path
    return write
