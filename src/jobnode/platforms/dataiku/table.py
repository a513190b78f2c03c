"""Dataset rows as DSS moves them: a schema of typed columns, and rows as tab-separated text
(`format=tsv-excel-noheader`, what the API client's `iter_rows` reads).

jobnode's records are JSON objects (a record that is not an object is the column `value`); a schema is derived
from them, and each cell is written as DSS writes it: numbers and text as they are, booleans as `true`/`false`,
objects and arrays as JSON text, nulls as empty cells. Reading a row back with its schema gives the record again
(an empty cell reads as null, except in a text column).

Example:
    ```python
    columns = schema_of([{"label": "positive", "score": 0.5}])   # label: string, score: double
    text = "".join(tsv_lines([{"label": "positive", "score": 0.5}], columns))
    list(read_tsv(text.splitlines(), columns))                    # [{"label": "positive", "score": 0.5}]
    ```
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator
from typing import Any

from jobnode.platforms.dataiku.wire import SchemaColumn

#: the column of a record that is not a JSON object
VALUE_COLUMN = "value"
_INTEGER_TYPES = frozenset({"tinyint", "smallint", "int", "bigint"})
_FLOAT_TYPES = frozenset({"float", "double"})
_JSON_TYPES = frozenset({"object", "array", "map"})


def as_row(record: Any) -> dict[str, Any]:
    """A record as a row: itself when it is an object, else `{"value": record}`."""
    return record if isinstance(record, dict) else {VALUE_COLUMN: record}


def _type_of(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, float):
        return "double"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string"


def _merge(old: str | None, new: str | None) -> str | None:
    if old is None or new is None or old == new:
        return old or new
    if {old, new} == {"bigint", "double"}:
        return "double"
    return "string"


def schema_of(records: Iterable[Any]) -> list[SchemaColumn]:
    """The columns of `records`: every key in the order first seen, typed by its values (a column whose values
    disagree is a string column; one with only nulls too)."""
    types: dict[str, str | None] = {}
    for record in records:
        for key, value in as_row(record).items():
            types[key] = _merge(types.get(key), _type_of(value))
    return [SchemaColumn(name=name, type=kind or "string") for name, kind in types.items()]


def merge_schemas(schemas: Iterable[list[SchemaColumn]]) -> list[SchemaColumn]:
    """One schema for the rows of several (the partitions of a dataset): every column, types merged."""
    types: dict[str, str | None] = {}
    for columns in schemas:
        for column in columns:
            types[column.name] = _merge(types.get(column.name), column.type)
    return [SchemaColumn(name=name, type=kind or "string") for name, kind in types.items()]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def tsv_lines(records: Iterable[Any], columns: list[SchemaColumn], *, header: bool = False) -> Iterator[str]:
    """Each record as one line of tab-separated cells in the order of `columns` (quoted as Excel quotes)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", quotechar='"', doublequote=True, lineterminator="\n")
    rows: Iterable[list[str]] = ([_cell(as_row(r).get(c.name)) for c in columns] for r in records)
    if header:
        rows = itertools.chain([[c.name for c in columns]], rows)
    for row in rows:
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _value(cell: str, kind: str) -> Any:
    if kind == "string":
        return cell
    if cell == "":
        return None
    try:
        if kind in _INTEGER_TYPES:
            return int(cell)
        if kind in _FLOAT_TYPES:
            return float(cell)
        if kind == "boolean":
            return cell.lower() == "true"
        if kind in _JSON_TYPES:
            return json.loads(cell)
    except ValueError:
        return cell
    return cell


def complete_rows(text: str) -> int:
    """How much of `text` is whole rows: the length up to its last newline outside a quoted cell (0: none yet).
    Quotes come in pairs (an escaped quote is doubled), so a newline ends a row when the quotes before it are even."""
    end = start = quotes = 0
    while (newline := text.find("\n", start)) != -1:
        quotes += text.count('"', start, newline)
        if quotes % 2 == 0:
            end = newline + 1
        start = newline + 1
    return end


def read_tsv(lines: Iterable[str], columns: list[SchemaColumn]) -> Iterator[dict[str, Any]]:
    """The rows of tab-separated text (without a header) as records, typed by `columns`."""
    for cells in csv.reader(lines, delimiter="\t", quotechar='"', doublequote=True):
        yield {c.name: _value(cell, c.type) for c, cell in zip(columns, cells, strict=False)}
