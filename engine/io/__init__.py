"""Files: reading registers (xlsx, xls, ods) and writing results (xlsx, csv, json)."""
