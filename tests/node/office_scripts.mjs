// Runs xlwings' own Office Scripts client -- js/xlwings.ts from the installed xlwings
// package (BSD-3, Copyright (C) 2014 - present, Zoomer Analytics GmbH) -- unchanged:
// esbuild only strips its TypeScript types, and the script runs in a vm context as
// Office Scripts runs it, with `fetch` and an `ExcelScript.Workbook`. That workbook is
// a small fake backed by arrays: a model of Excel, not of the client.
//
//   node office_scripts.mjs REQUEST.json RESULT.json
//
// REQUEST: {xlwings_ts, url, options: {auth, include, exclude}, runs, workbook: {name,
// sheets: [{name, values, dates: [[r, c]], fills: {"r,c": "#RRGGBB"}}], active, selection}}
// (values as getValues gives them: "" for empty, dates as serial numbers).
// RESULT: {workbook (after the last run; text written by setValues as {typed: text},
// for the Python side to read as Excel reads typed text), calls: [every setValues,
// with its size], error (what the script failed with: xlwings' alert throws its
// message), times_ms (per run: runPython from start to end), request_bytes, reply}.

import { readFileSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import vm from "node:vm";
import { transformSync } from "esbuild";

// Excel on the web refuses an API request over 5 MB (Office Scripts platform limits).
const PAYLOAD_LIMIT = 5 * 1000 * 1000;

const ExcelScript = {
  NamedItemType: { range: "Range" },
  NamedItemScope: { workbook: "Workbook", worksheet: "Worksheet" },
  ShapeType: { image: "Image" },
  ClearApplyTo: { all: "All", formats: "Formats", contents: "Contents" },
  DeleteShiftDirection: { up: "Up", left: "Left" },
  InsertShiftDirection: { down: "Down", right: "Right" },
};

function columnName(c) {
  let name = "";
  for (c += 1; c > 0; c = Math.floor((c - 1) / 26)) name = String.fromCharCode(65 + ((c - 1) % 26)) + name;
  return name;
}

function parseCell(address) {
  const m = /^\$?([A-Z]{1,3})\$?(\d+)$/.exec(address.toUpperCase());
  if (!m) throw new Error(`not a cell address: ${address}`);
  let c = 0;
  for (const ch of m[1]) c = c * 26 + ch.charCodeAt(0) - 64;
  return [Number(m[2]) - 1, c - 1];
}

class Workbook {
  constructor(state, log) {
    this.name = state.name;
    this.log = log;
    this.sheets = state.sheets.map((s) => new Worksheet(this, s));
    this.active = this.sheets[state.active];
    this.selection = state.selection;
  }
  getName() { return this.name; }
  getWorksheets() { return [...this.sheets]; }
  getWorksheet(name) { return this.sheets.find((s) => s.name === name); }
  getActiveWorksheet() { return this.active; }
  getNames() { return []; }
  getSelectedRange() {
    if (!this.selection) throw new Error("InvalidSelection: no range is selected");
    const [first, last] = this.selection.split(":");
    const [r1, c1] = parseCell(first);
    const [r2, c2] = parseCell(last ?? first);
    return new Range(this.active, r1, c1, r2 - r1 + 1, c2 - c1 + 1);
  }
  addWorksheet(name) {
    if (name === undefined) {
      let n = 1;
      while (this.getWorksheet(`Sheet${n}`)) n += 1;
      name = `Sheet${n}`;
    }
    if (this.sheets.some((s) => s.name.toLowerCase() === name.toLowerCase())) {
      throw new Error(`ItemAlreadyExists: a sheet named ${name} exists`);
    }
    const sheet = new Worksheet(this, { name, values: [], dates: [], fills: {} });
    this.sheets.push(sheet);
    return sheet;
  }
}

class Worksheet {
  constructor(book, state) {
    this.book = book;
    this.name = state.name;
    this.values = state.values.map((row) => [...row]);
    this.dates = new Set(state.dates.map(([r, c]) => `${r},${c}`));
    this.fills = new Map(Object.entries(state.fills));
    this.autofit = new Set();
  }
  getName() { return this.name; }
  setName(name) { this.name = name; }
  getPosition() { return this.book.sheets.indexOf(this); }
  setPosition(position) {
    const sheets = this.book.sheets;
    if (!(position >= 0 && position < sheets.length)) throw new Error(`InvalidArgument: position ${position}`);
    sheets.splice(sheets.indexOf(this), 1);
    sheets.splice(position, 0, this);
  }
  activate() { this.book.active = this; }
  getNames() { return []; }
  getTables() { return []; }
  getShapes() { return []; }
  get(r, c) {
    const row = this.values[r];
    return row === undefined || row[c] === undefined ? "" : row[c];
  }
  put(r, c, value) {
    while (this.values.length <= r) this.values.push([]);
    const row = this.values[r];
    while (row.length < c) row.push("");
    row[c] = value;
  }
  // the block from the first to the last cell with a value or a fill; undefined when none
  getUsedRange() {
    let r1 = Infinity, c1 = Infinity, r2 = -1, c2 = -1;
    this.values.forEach((row, r) => row.forEach((v, c) => {
      if (v !== "") { r1 = Math.min(r1, r); c1 = Math.min(c1, c); r2 = Math.max(r2, r); c2 = Math.max(c2, c); }
    }));
    for (const key of this.fills.keys()) {
      const [r, c] = key.split(",").map(Number);
      r1 = Math.min(r1, r); c1 = Math.min(c1, c); r2 = Math.max(r2, r); c2 = Math.max(c2, c);
    }
    return r2 < 0 ? undefined : new Range(this, r1, c1, r2 - r1 + 1, c2 - c1 + 1);
  }
  getRangeByIndexes(row, column, rows, columns) { return new Range(this, row, column, rows, columns); }
  getRange(address) {
    const [first, last] = address.split(":");
    const [r1, c1] = parseCell(first);
    const [r2, c2] = parseCell(last ?? first);
    return new Range(this, r1, c1, r2 - r1 + 1, c2 - c1 + 1);
  }
}

class Range {
  constructor(sheet, row, column, rows, columns) {
    if (rows < 1 || columns < 1) throw new Error(`InvalidArgument: a range of ${rows} x ${columns} cells`);
    Object.assign(this, { sheet, row, column, rows, columns });
  }
  *cells() {
    for (let r = this.row; r < this.row + this.rows; r++) {
      for (let c = this.column; c < this.column + this.columns; c++) yield [r, c];
    }
  }
  getWorksheet() { return this.sheet; }
  getAddress() {
    const first = `${columnName(this.column)}${this.row + 1}`;
    const last = `${columnName(this.column + this.columns - 1)}${this.row + this.rows}`;
    return `${this.sheet.name}!${first === last ? first : `${first}:${last}`}`;
  }
  getRowIndex() { return this.row; }
  getColumnIndex() { return this.column; }
  getLastCell() { return new Range(this.sheet, this.row + this.rows - 1, this.column + this.columns - 1, 1, 1); }
  getValues() {
    const out = [];
    for (let r = this.row; r < this.row + this.rows; r++) {
      const row = [];
      for (let c = this.column; c < this.column + this.columns; c++) {
        const v = this.sheet.get(r, c);
        row.push(typeof v === "object" && v !== null ? v.typed : v);
      }
      out.push(row);
    }
    return out;
  }
  getNumberFormatCategories() {
    return this.getValues().map((row, i) => row.map((_, j) =>
      this.sheet.dates.has(`${this.row + i},${this.column + j}`) ? "Date" : "General"));
  }
  getSurroundingRegion() {
    let rows = this.rows, columns = this.columns;
    while (this.sheet.get(this.row + rows, this.column) !== "") rows += 1;
    while (this.sheet.get(this.row, this.column + columns) !== "") columns += 1;
    return new Range(this.sheet, this.row, this.column, rows, columns);
  }
  setValues(values) {
    const json = JSON.stringify(values);
    const bytes = Buffer.byteLength(json, "utf8");
    const escaped = json.length + 5 * (json.match(/[^\x00-\x7f]/g) ?? []).length;
    this.sheet.book.log.push({
      func: "setValues", sheet: this.sheet.name, row: this.row, column: this.column,
      rows: this.rows, columns: this.columns, bytes, escaped_bytes: escaped,
    });
    if (bytes > PAYLOAD_LIMIT) throw new Error(`RichApi.Error: the request payload (${bytes} bytes) is over Excel's limit`);
    if (!Array.isArray(values) || values.length !== this.rows || values.some((row) => row.length !== this.columns)) {
      throw new Error("InvalidArgument: the number of rows or columns in the input array doesn't match the size or dimensions of the range");
    }
    values.forEach((row, i) => row.forEach((v, j) => {
      if (v === null) return; // Office.js: null leaves the cell as it is
      const r = this.row + i, c = this.column + j;
      this.sheet.dates.delete(`${r},${c}`);
      this.sheet.put(r, c, typeof v === "string" && v !== "" ? { typed: v } : v);
    }));
  }
  clear(applyTo = ExcelScript.ClearApplyTo.all) {
    for (const [r, c] of this.cells()) {
      if (applyTo !== ExcelScript.ClearApplyTo.formats && this.sheet.get(r, c) !== "") this.sheet.put(r, c, "");
      if (applyTo !== ExcelScript.ClearApplyTo.contents) {
        this.sheet.fills.delete(`${r},${c}`);
        this.sheet.dates.delete(`${r},${c}`);
      }
    }
  }
  getFormat() {
    const range = this;
    return {
      autofitColumns() { for (let c = range.column; c < range.column + range.columns; c++) range.sheet.autofit.add(c); },
      autofitRows() {},
      getFill() {
        return { setColor(colour) { for (const [r, c] of range.cells()) range.sheet.fills.set(`${r},${c}`, colour.toUpperCase()); } };
      },
    };
  }
}

function exportBook(book) {
  return {
    name: book.name,
    active: book.sheets.indexOf(book.active),
    sheets: book.sheets.map((s) => ({
      name: s.name,
      values: s.values,
      dates: [...s.dates].map((k) => k.split(",").map(Number)),
      fills: Object.fromEntries(s.fills),
      autofit: [...s.autofit],
    })),
  };
}

const [requestPath, resultPath] = process.argv.slice(2);
const request = JSON.parse(readFileSync(requestPath, "utf8"));
const { code } = transformSync(readFileSync(request.xlwings_ts, "utf8"), { loader: "ts", format: "esm", target: "es2022" });

let exchange = {};
const context = vm.createContext({
  ExcelScript,
  console: { log: () => {} }, // xlwings.ts calls console.log() to force a sync
  async fetch(url, init) {
    exchange = { request_bytes: Buffer.byteLength(init.body, "utf8") };
    const response = await fetch(url, init);
    exchange.reply = {
      status: response.status,
      content_length: Number(response.headers.get("content-length")),
      content_encoding: response.headers.get("content-encoding"),
    };
    return response;
  },
});
vm.runInContext(code, context, { filename: "xlwings.ts" });

const times = [];
let book, log, error;
for (let run = 0; run < (request.runs ?? 1); run++) {
  log = [];
  book = new Workbook(request.workbook, log);
  error = null;
  const start = performance.now();
  try {
    await context.runPython(book, request.url, request.options ?? {});
  } catch (thrown) {
    error = typeof thrown === "string" ? thrown : String(thrown?.message ?? thrown);
  }
  times.push(performance.now() - start);
}
writeFileSync(resultPath, JSON.stringify({
  workbook: exportBook(book), calls: log, error, times_ms: times, ...exchange,
}));
