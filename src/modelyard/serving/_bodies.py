"""Prediction request bodies, whatever their dialect, as columns of equal length.

- JSON records: ``[{"x1": 1.0, "x2": 2.0}, ...]``, or ``{"records": [...]}``;
- MLflow's ``/invocations`` bodies: ``{"dataframe_records": [...]}``, ``{"dataframe_split":
  {"columns": [...], "data": [[...], ...]}}``, ``{"inputs": ...}`` and ``{"instances": ...}``
  (columns as ``{"x1": [...], ...}``, records, or rows of values in the model's feature order);
- Arrow IPC (``application/vnd.apache.arrow.stream`` or ``.file``) and CSV (``text/csv``).

Every refusal is a 400 that names what is wrong (the column, the row).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import orjson

from modelyard.kit.errors import BadRequest, UnsupportedMediaType

ARROW_TYPES = ("application/vnd.apache.arrow.stream", "application/vnd.apache.arrow.file")
FORMATS = "JSON records, dataframe_split, dataframe_records, inputs, instances, Arrow IPC or CSV"

Columns = dict[str, np.ndarray]


def _column(name: str, values: list[Any]) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype == object and any(isinstance(v, list | dict) for v in values):
        raise BadRequest(f"Column '{name}' holds lists or objects; send one value per row.")
    if array.ndim != 1:
        raise BadRequest(f"Column '{name}' must hold one value per row.")
    return array


def _from_records(records: Sequence[Any]) -> Columns:
    if not records:
        raise BadRequest("The body holds no rows.")
    first = records[0]
    if not isinstance(first, Mapping):
        raise BadRequest("Records must be JSON objects of column -> value.")
    names = list(first)
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for index, record in enumerate(records):
        if not isinstance(record, Mapping) or record.keys() != first.keys():
            missing = sorted(set(names) - set(record)) if isinstance(record, Mapping) else names
            extra = sorted(set(record) - set(names)) if isinstance(record, Mapping) else []
            detail = (
                f"missing {', '.join(missing)}" if missing else f"unexpected {', '.join(extra)}"
            )
            raise BadRequest(f"Row {index} does not have the columns of row 0 ({detail}).")
        for name in names:
            columns[name].append(record[name])
    return {name: _column(name, values) for name, values in columns.items()}


def _from_columns(raw: Mapping[str, Any]) -> Columns:
    lengths = {name: len(v) if isinstance(v, list) else 1 for name, v in raw.items()}
    if not raw:
        raise BadRequest("The body holds no columns.")
    if len(set(lengths.values())) != 1:
        shown = ", ".join(f"{name}: {n}" for name, n in lengths.items())
        raise BadRequest(f"Columns must have one value per row each; got {shown}.")
    return {
        name: _column(name, values if isinstance(values, list) else [values])
        for name, values in raw.items()
    }


def _from_rows(rows: Sequence[Any], features: Sequence[str], what: str) -> Columns:
    if not rows:
        raise BadRequest("The body holds no rows.")
    width = len(features)
    for index, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            raise BadRequest(
                f"Row {index} of `{what}` must be a list of {width} values, one per feature "
                f"({', '.join(features)})."
            )
    return {name: _column(name, [row[i] for row in rows]) for i, name in enumerate(features)}


def _from_split(split: Any) -> Columns:
    if not isinstance(split, Mapping) or not isinstance(split.get("columns"), list):
        raise BadRequest("`dataframe_split` needs `columns` (names) and `data` (rows).")
    names = [str(c) for c in split["columns"]]
    data = split.get("data")
    if not isinstance(data, list):
        raise BadRequest("`dataframe_split.data` must be a list of rows.")
    return _from_rows(data, names, "dataframe_split.data")


def _from_json(body: bytes, features: Sequence[str]) -> Columns:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}.") from exc
    if isinstance(parsed, list):
        return _from_records(parsed)
    if not isinstance(parsed, dict):
        raise BadRequest(f"Send {FORMATS}.")
    if "dataframe_split" in parsed:
        return _from_split(parsed["dataframe_split"])
    for key in ("dataframe_records", "records"):
        if key in parsed:
            records = parsed[key]
            if not isinstance(records, list):
                raise BadRequest(f"`{key}` must be a list of objects.")
            return _from_records(records)
    for key in ("inputs", "instances"):
        if key in parsed:
            value = parsed[key]
            if isinstance(value, dict):
                return _from_columns(value)
            if isinstance(value, list) and value and isinstance(value[0], dict):
                return _from_records(value)
            if isinstance(value, list):
                return _from_rows(value, features, key)
            raise BadRequest(f"`{key}` must be columns, records or rows.")
    raise BadRequest(f"Unknown body; send {FORMATS}.")


def _from_table(table: Any) -> Columns:
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}


def parse(body: bytes, content_type: str, features: Sequence[str]) -> Columns:
    """The body's columns; ``features`` orders rows sent without column names."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media in ("", "application/json"):
        return _from_json(body, features)
    if media in ARROW_TYPES:
        import pyarrow as pa

        try:
            if media.endswith("stream"):
                table = pa.ipc.open_stream(pa.py_buffer(body)).read_all()
            else:
                table = pa.ipc.open_file(pa.py_buffer(body)).read_all()
        except pa.ArrowInvalid as exc:
            raise BadRequest(f"The body is not Arrow IPC: {exc}.") from exc
        return _from_table(table)
    if media == "text/csv":
        import pyarrow as pa
        from pyarrow import csv

        try:
            return _from_table(csv.read_csv(pa.py_buffer(body)))
        except pa.ArrowInvalid as exc:
            raise BadRequest(f"The body is not CSV with a header row: {exc}.") from exc
    raise UnsupportedMediaType(
        f"Send application/json ({FORMATS}), {ARROW_TYPES[0]} or text/csv, not {media}."
    )


def check_features(columns: Columns, needed: Sequence[str]) -> None:
    missing = [name for name in needed if name not in columns]
    if missing:
        raise BadRequest(
            f"Column {', '.join(repr(m) for m in missing)} is missing; the model needs "
            f"{', '.join(needed)}.",
            extra={"missing": missing},
        )
