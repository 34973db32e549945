"""Rows to MongoDB documents and back: the type mapping, the `_id`, and the document layout.

Relational rows become documents whose `_id` is the row's key: the value itself for a one-column
key, a sub-document {column: value, ...} in key order for a composite key (or always, with
id_mode "document"). Every column, key columns included, is also a top-level field, so documents
can be queried by column name.

MongoDB collections read as a source have one of two layouts (the source's option `layout`):
- "document" (the default, see document_schema): two columns, `_id` and `doc` (the rest of the
  document as relaxed Extended JSON text, which keeps ObjectId, dates, Decimal128 and binary
  values). A MongoDB sink recognises the layout from the schema's extra and writes the documents
  back as they were.
- "columns" (see columns_schema), for relational targets: `_id`, one column per top-level field
  found in a sample, typed when the sample shows one scalar type (FIELD_TYPES), and `_rest`: a
  JSON object of every other field, and of any value whose type differs from its column's, so a
  field that appears later or changes type is still copied, never dropped.

Canonical type -> BSON (see to_bson), chosen so nothing is rounded or cut silently:
    INT, BIT, YEAR      int (int32/int64 by size); values above 2**63-1 (unsigned 64-bit, BIT(64)) are
                        dirty rows
    DECIMAL             Decimal128 (decimal_mode "decimal128", the default; more than 34 digits is a
                        dirty row) or the exact decimal text (decimal_mode "string")
    FLOAT, BOOL         double, bool
    STRING, ENUM, SET   string
    BYTES               binary (subtype 0)
    UUID                binary subtype 4 (standard UUID representation)
    JSON                the parsed JSON value (embedded document, array, ...); invalid JSON is dirty
    DATE                date at 00:00 UTC
    DATETIME, TIMESTAMP date (UTC, millisecond precision: a value with sub-millisecond digits is a
                        dirty row unless datetime_mode is "string", which stores ISO 8601 text)
    TIME                string [-]HH:MM:SS[.ffffff] (BSON has no duration type)
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bson import Binary, Decimal128, ObjectId, json_util
from bson.json_util import JSONMode, JSONOptions

from connectors.errors import ConnectorError
from connectors.quarantine import format_duration
from connectors.types import CanonicalType, ColumnSchema, Kind, TableId, TableSchema

INT64_MAX = 2**63 - 1
DECIMAL128_DIGITS = 34
DOC_COLUMN = "doc"
ID_FIELD = "_id"
# schema.extra key of a collection read by the MongoDB source: {"layout": "document", "id_kind": ...}
EXTRA_KEY = "mongodb"
RELAXED = JSONOptions(json_mode=JSONMode.RELAXED, tz_aware=True, tzinfo=dt.UTC, uuid_representation=4)

# Options the task or these connectors read from ConnectionConfig.options: never passed to MongoClient.
DTS_OPTIONS = frozenset({"id_mode", "id_format", "decimal_mode", "datetime_mode", "source_engine", "zero_date_policy",
                         "server_id", "allow_no_primary_key", "heartbeat_interval", "layout", "sample_size",
                         "task_name"})

ID_MODES = ("key", "document")
DECIMAL_MODES = ("decimal128", "string")
DATETIME_MODES = ("date", "string")
# How a source collection's `_id` values appear in rows (see id_to_row / id_from_row).
ID_KINDS = ("objectId", "int", "string", "ejson")


class DirtyValue(ValueError):
    """A value MongoDB cannot hold exactly; the sink reports the row (quarantine), never alters it."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column


@dataclass(frozen=True)
class DocumentOptions:
    id_mode: str = "key"
    decimal_mode: str = "decimal128"
    datetime_mode: str = "date"

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> DocumentOptions:
        values = {}
        for name, allowed in (("id_mode", ID_MODES), ("decimal_mode", DECIMAL_MODES),
                              ("datetime_mode", DATETIME_MODES)):
            value = options.get(name, getattr(cls, name))
            if value not in allowed:
                raise ConnectorError(f"target option {name}={value!r} is not valid",
                                     hint=f"set target options.{name} to one of: {', '.join(allowed)}")
            values[name] = value
        return cls(**values)


Convert = Callable[[Any], Any]


def _as_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def converter(column: ColumnSchema, options: DocumentOptions) -> Convert | None:
    """The canonical -> BSON conversion of one column (None: the value goes as it is)."""
    kind = column.type.kind
    name = column.name
    wide_unsigned = kind == Kind.INT and column.type.unsigned and (column.type.bits or 64) >= 64
    if wide_unsigned or (kind == Kind.BIT and (column.type.length or 64) >= 64):
        def big_int(value: Any) -> Any:
            if value > INT64_MAX:
                raise DirtyValue(name, f"{value} is above MongoDB's largest integer (2**63-1)")
            return value
        return big_int
    if kind == Kind.DECIMAL:
        if options.decimal_mode == "string":
            return lambda value: format(value, "f") if isinstance(value, decimal.Decimal) else str(value)

        def to_decimal128(value: Any) -> Any:
            number = decimal.Decimal(value)
            if len(number.as_tuple().digits) > DECIMAL128_DIGITS:
                raise DirtyValue(name, f"{number} has more than {DECIMAL128_DIGITS} digits, Decimal128's limit "
                                       "(set target option decimal_mode='string' to store the exact text)")
            return Decimal128(number)
        return to_decimal128
    if kind == Kind.BYTES:
        return lambda value: Binary(bytes(value))
    if kind == Kind.UUID:
        return lambda value: Binary.from_uuid(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
    if kind == Kind.JSON:
        def parse(value: Any) -> Any:
            if not isinstance(value, str | bytes):
                return value
            try:
                return json.loads(value)
            except ValueError as exc:
                raise DirtyValue(name, f"invalid JSON: {exc}") from None
        return parse
    if kind == Kind.DATE:
        return lambda value: dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if kind in (Kind.DATETIME, Kind.TIMESTAMP):
        if options.datetime_mode == "string":
            return lambda value: value.isoformat() if isinstance(value, dt.datetime) else str(value)

        def to_date(value: Any) -> Any:
            if not isinstance(value, dt.datetime):
                return value  # e.g. a zero date kept as text by the source's zero_date_policy 'string'
            if value.microsecond % 1000:
                raise DirtyValue(name, f"{value.isoformat()} has sub-millisecond digits; BSON dates keep "
                                       "milliseconds (set target option datetime_mode='string' to keep them)")
            return _as_utc(value)
        return to_date
    if kind == Kind.TIME:
        return lambda value: format_duration(value) if isinstance(value, dt.timedelta) else str(value)
    return None


@dataclass(frozen=True)
class DocumentMapper:
    """Turns rows of one schema into documents and keys into `_id` values."""

    schema: TableSchema
    names: tuple[str, ...]
    converters: tuple[Convert | None, ...]
    key_indexes: tuple[int, ...]
    key_names: tuple[str, ...]
    id_as_document: bool
    source_layout: dict[str, Any] | None  # set for rows read from a MongoDB source (document layout)

    @classmethod
    def build(cls, schema: TableSchema, options: DocumentOptions) -> DocumentMapper:
        layout = schema.extra.get(EXTRA_KEY)
        key_names = schema.key_columns
        return cls(schema, schema.column_names, tuple(converter(c, options) for c in schema.columns),
                   schema.key_indexes(), key_names,
                   options.id_mode == "document" or len(key_names) > 1, layout)

    def document(self, row: Sequence[Any]) -> dict[str, Any]:
        """The document for a row (raises DirtyValue naming the column a value cannot be stored in)."""
        if self.source_layout is not None:
            return source_document(row, self.source_layout)
        doc: dict[str, Any] = {}
        if self.key_indexes:
            doc[ID_FIELD] = self.id_of(tuple(row[i] for i in self.key_indexes))
        for name, convert, value in zip(self.names, self.converters, row, strict=True):
            if name == ID_FIELD:
                continue  # the `_id` is the key; a source column named _id is the key itself
            doc[name] = value if convert is None or value is None else convert(value)
        return doc

    def id_of(self, key: tuple[Any, ...]) -> Any:
        """The `_id` for a key: the value, or {column: value} in key order for composite keys."""
        if self.source_layout is not None:
            return id_from_row(key[0], self.source_layout.get("id_kind", "ejson"))
        values = []
        for index, value in zip(self.key_indexes, key, strict=True):
            convert = self.converters[index]
            values.append(value if convert is None or value is None else convert(value))
        if not self.id_as_document:
            return values[0]
        return dict(zip(self.key_names, values, strict=True))

    def id_parts(self, key: tuple[Any, ...]) -> tuple[Any, ...]:
        """A key as the values of id_fields(), for range filters."""
        value = self.id_of(key)
        return tuple(value.values()) if self.id_as_document and self.source_layout is None else (value,)

    def id_fields(self) -> tuple[str, ...]:
        """The paths of the `_id`'s parts, for range filters."""
        if self.id_as_document and self.source_layout is None:
            return tuple(f"{ID_FIELD}.{name}" for name in self.key_names)
        return (ID_FIELD,)


def range_filter(fields: Sequence[str], low: Sequence[Any] | None, high: Sequence[Any] | None) -> dict[str, Any]:
    """A filter for fields (compared as a tuple, lexicographically) in [low, high).

    Composite keys compare part by part, so a range is an $or of "equal so far, then greater";
    it needs no sub-document comparison, which some MongoDB-compatible servers lack.
    """
    conditions: list[dict[str, Any]] = []
    if low is not None:
        conditions.append(_lexicographic(fields, low, "$gt", "$gte"))
    if high is not None:
        conditions.append(_lexicographic(fields, high, "$lt", "$lt"))
    if not conditions:
        return {}
    return conditions[0] if len(conditions) == 1 else {"$and": conditions}


def _lexicographic(fields: Sequence[str], bound: Sequence[Any], strict: str, last: str) -> dict[str, Any]:
    branches: list[dict[str, Any]] = []
    for position, field in enumerate(fields):
        branch: dict[str, Any] = {f: bound[i] for i, f in enumerate(fields[:position])}
        branch[field] = {(last if position == len(fields) - 1 else strict): bound[position]}
        branches.append(branch)
    return branches[0] if len(branches) == 1 else {"$or": branches}


# Document layout: a collection read by the MongoDB source --------------------------------------

def id_kind_of(value: Any) -> str:
    if isinstance(value, ObjectId):
        return "objectId"
    if isinstance(value, int) and not isinstance(value, bool):
        return "int"
    if isinstance(value, str):
        return "string"
    return "ejson"


ID_TYPES: dict[str, CanonicalType] = {
    "objectId": CanonicalType(Kind.STRING, length=24, fixed=True, native="objectId"),
    "int": CanonicalType(Kind.INT, bits=64, native="long"),
    "string": CanonicalType(Kind.STRING, length=255, native="string"),
    # 768 characters: the longest utf8mb4 VARCHAR a MySQL primary key can index (3072 bytes).
    "ejson": CanonicalType(Kind.STRING, length=768, native="extended JSON"),
}


def document_schema(table: TableId, id_kind: str) -> TableSchema:
    """The canonical schema of a collection: `_id` (typed by id_kind) and `doc`, the rest as JSON."""
    return TableSchema(table, (ColumnSchema(ID_FIELD, ID_TYPES[id_kind], nullable=False),
                               ColumnSchema(DOC_COLUMN, CanonicalType(Kind.JSON, native="object"), nullable=False)),
                       primary_key=(ID_FIELD,), extra={EXTRA_KEY: {"layout": "document", "id_kind": id_kind}})


def id_to_row(value: Any, id_kind: str) -> Any:
    """An `_id` as it appears in rows: ObjectId as its hex text, ints and strings as they are,
    anything else (or any value in a collection of mixed `_id` types) as relaxed Extended JSON."""
    if id_kind == "ejson":
        return json_util.dumps(value, json_options=RELAXED)
    if id_kind_of(value) != id_kind:
        raise ConnectorError(f"_id {value!r} is not of the collection's _id type {id_kind} (read from its smallest "
                             "and largest _id)",
                             hint="the collection holds _id values of several types: set the source's "
                                  "options.id_format to 'ejson' (every _id as Extended JSON text) and copy it again")
    return str(value) if id_kind == "objectId" else value


def id_from_row(value: Any, id_kind: str) -> Any:
    if id_kind == "objectId":
        return ObjectId(value)
    if id_kind == "ejson":
        return json_util.loads(value, json_options=RELAXED)
    return value


def document_row(document: Mapping[str, Any], id_kind: str) -> tuple[Any, Any]:
    rest = {name: value for name, value in document.items() if name != ID_FIELD}
    return id_to_row(document[ID_FIELD], id_kind), json_util.dumps(rest, json_options=RELAXED)


def source_document(row: Sequence[Any], layout: Mapping[str, Any]) -> dict[str, Any]:
    """The document a row read by the MongoDB source came from, in either layout."""
    if layout.get("layout") == "columns":
        return columns_document(row, layout)
    doc_id, text = row
    rest = json_util.loads(text, json_options=RELAXED) if isinstance(text, str | bytes) else dict(text)
    return {ID_FIELD: id_from_row(doc_id, layout.get("id_kind", "ejson")), **rest}


# Columns layout: top-level fields as columns, the rest as JSON ------------------------------------

REST_COLUMN = "_rest"
# BSON type (as connectors.mongodb.catalog.bson_type names it) -> the column type of a field that
# only ever holds it. Any other type, or a mix, is a JSON column (relaxed Extended JSON text).
FIELD_TYPES: dict[str, CanonicalType] = {
    "int": CanonicalType(Kind.INT, bits=32, native="int"),
    "long": CanonicalType(Kind.INT, bits=64, native="long"),
    "double": CanonicalType(Kind.FLOAT, bits=64, native="double"),
    "string": CanonicalType(Kind.STRING, native="string"),
    "bool": CanonicalType(Kind.BOOL, native="bool"),
    "date": CanonicalType(Kind.TIMESTAMP, fsp=3, native="date"),
    "objectId": CanonicalType(Kind.STRING, length=24, fixed=True, native="objectId"),
}
JSON_FIELD = CanonicalType(Kind.JSON, native="mixed")


def field_type(seen: set[str]) -> str:
    """The one BSON type a column holds ("json": anything), from the types a sample showed."""
    types = seen - {"null"}
    if types == {"int", "long"}:
        return "long"
    if len(types) == 1 and next(iter(types)) in FIELD_TYPES:
        return next(iter(types))
    return "json"


def columns_schema(table: TableId, id_kind: str, fields: Sequence[tuple[str, set[str]]]) -> TableSchema:
    """`_id`, a column per sampled top-level field, and `_rest` (JSON) for everything else."""
    columns = [ColumnSchema(ID_FIELD, ID_TYPES[id_kind], nullable=False)]
    kinds: dict[str, str] = {}
    for name, seen in fields:
        if name in (ID_FIELD, REST_COLUMN):
            continue
        kinds[name] = field_type(seen)
        columns.append(ColumnSchema(name, FIELD_TYPES.get(kinds[name], JSON_FIELD), nullable=True))
    columns.append(ColumnSchema(REST_COLUMN, CanonicalType(Kind.JSON, native="object"), nullable=False))
    return TableSchema(table, tuple(columns), primary_key=(ID_FIELD,),
                       extra={EXTRA_KEY: {"layout": "columns", "id_kind": id_kind, "fields": kinds}})


def _fits(kind: str, value: Any) -> bool:
    if kind in ("int", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "double":
        return isinstance(value, float)
    if kind == "string":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "date":
        return isinstance(value, dt.datetime)
    if kind == "objectId":
        return isinstance(value, ObjectId)
    return True


def columns_row(document: Mapping[str, Any], layout: Mapping[str, Any]) -> tuple[Any, ...]:
    """A document as a columns-layout row; fields without a column, or of another type, go to `_rest`."""
    kinds: Mapping[str, str] = layout["fields"]
    rest = {name: value for name, value in document.items() if name != ID_FIELD and name not in kinds}
    row: list[Any] = [id_to_row(document[ID_FIELD], layout["id_kind"])]
    for name, kind in kinds.items():
        value = document.get(name)
        if value is None:
            row.append(None)
        elif not _fits(kind, value):
            rest[name] = value
            row.append(None)
        elif kind == "json":
            row.append(json_util.dumps(value, json_options=RELAXED))
        elif kind == "objectId":
            row.append(str(value))
        elif kind == "date":
            row.append(_as_utc(value))
        else:
            row.append(value)
    row.append(json_util.dumps(rest, json_options=RELAXED))
    return tuple(row)


def columns_document(row: Sequence[Any], layout: Mapping[str, Any]) -> dict[str, Any]:
    """The document a columns-layout row came from (a field that was absent comes back as null)."""
    kinds: Mapping[str, str] = layout["fields"]
    doc: dict[str, Any] = {ID_FIELD: id_from_row(row[0], layout["id_kind"])}
    for (name, kind), value in zip(kinds.items(), row[1:-1], strict=True):
        if value is not None and kind == "json":
            value = json_util.loads(value, json_options=RELAXED) if isinstance(value, str) else value
        elif value is not None and kind == "objectId":
            value = ObjectId(value)
        doc[name] = value
    rest = row[-1]
    doc.update(json_util.loads(rest, json_options=RELAXED) if isinstance(rest, str) else dict(rest or {}))
    return doc
