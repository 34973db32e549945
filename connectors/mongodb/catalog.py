"""Catalog discovery for MongoDB: databases, collections and views, with fields inferred from a sample.

MongoDB has no schema, so columns are the top-level fields of up to SAMPLE_SIZE random documents,
typed with the BSON type names seen ("int|string") and nullable when some document lacks the
field or holds null.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.dbref import DBRef
from pymongo.database import Database
from pymongo.errors import ConfigurationError, ConnectionFailure, OperationFailure, PyMongoError

from connectors.base import Catalog, Column, Table
from connectors.config import ConnectionConfig
from connectors.errors import ConnectionFailed, ConnectorError
from connectors.mongodb import SYSTEM_DATABASES, MongoClientT, address, error_text, is_auth_failure

SAMPLE_SIZE = 100

# Most specific class first: bool and Int64 are ints, Code is a str, Binary is bytes.
BSON_TYPE_NAMES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (type(None), "null"),
    (bool, "bool"),
    (Int64, "long"),
    (int, "int"),
    (float, "double"),
    (Code, "javascript"),
    (str, "string"),
    (ObjectId, "objectId"),
    (datetime, "date"),
    (Decimal128, "decimal"),
    (Timestamp, "timestamp"),
    ((Binary, bytes, uuid.UUID), "binData"),
    ((Regex, re.Pattern), "regex"),
    (MinKey, "minKey"),
    (MaxKey, "maxKey"),
    ((DBRef, Mapping), "object"),
    (list, "array"),
)


def bson_type(value: object) -> str:
    """The name MongoDB's $type uses for a decoded value."""
    for classes, name in BSON_TYPE_NAMES:
        if isinstance(value, classes):
            return name
    return type(value).__name__


def infer_columns(documents: Iterable[Mapping[str, Any]]) -> list[Column]:
    """Top-level fields in order of first appearance, each with every BSON type seen."""
    types: dict[str, set[str]] = {}
    present: dict[str, int] = {}
    total = 0
    for document in documents:
        total += 1
        for field, value in document.items():
            types.setdefault(field, set()).add(bson_type(value))
            present[field] = present.get(field, 0) + 1
    columns = []
    for ordinal, (field, seen) in enumerate(types.items(), start=1):
        value_types = sorted(seen - {"null"}) or ["null"]
        nullable = "null" in seen or present[field] < total
        columns.append(Column(name=field, type="|".join(value_types), nullable=nullable, ordinal=ordinal))
    return columns


def describe_collection(db: Database[dict[str, Any]], info: Mapping[str, Any]) -> Table:
    name = str(info["name"])
    options = info.get("options") or {}
    if info.get("type") == "view":
        # A view runs its pipeline on every read: no count, and sampling could be expensive.
        return Table(database=db.name, name=name, kind="view", comment=f"view on {options.get('viewOn', '?')}")
    collection = db[name]
    sample = collection.aggregate([{"$sample": {"size": SAMPLE_SIZE}}])
    return Table(
        database=db.name,
        name=name,
        columns=infer_columns(sample),
        primary_key=["_id"],
        estimated_rows=collection.estimated_document_count(),
        kind="collection",
        comment="time series" if info.get("type") == "timeseries" else "",
    )


def list_tables(client: MongoClientT, databases: list[str]) -> list[Table]:
    tables = []
    for database in databases:
        db = client[database]
        for info in db.list_collections():
            # system.views, system.profile, system.buckets.*: the server's own bookkeeping.
            if str(info["name"]).startswith("system."):
                continue
            tables.append(describe_collection(db, info))
    return sorted(tables, key=lambda table: (table.database, table.name))


def discover_catalog(config: ConnectionConfig, client_factory: Callable[..., MongoClientT]) -> Catalog:
    where = address(config)
    try:
        client = client_factory()
    except (ConfigurationError, TypeError, ValueError) as exc:
        raise ConnectionFailed(f"invalid MongoDB connection options: {error_text(exc, config)}",
                               hint="options are MongoClient options such as authSource, tls, replicaSet") from exc
    with client:
        try:
            if config.database:
                databases = [config.database]
            else:
                databases = [name for name in client.list_database_names() if name not in SYSTEM_DATABASES]
            tables = list_tables(client, databases)
        except ConnectionFailure as exc:
            raise ConnectionFailed(f"cannot reach MongoDB at {where}: {error_text(exc, config)}",
                                   hint="check host, port, net.bindIp, firewalls and the tls option") from exc
        except OperationFailure as exc:
            if is_auth_failure(exc):
                raise ConnectionFailed(f"login to MongoDB at {where} as {config.user} refused: "
                                       f"{error_text(exc, config)}",
                                       hint="check user and password, and authSource when the user is defined "
                                            "outside 'admin'") from exc
            raise ConnectorError(f"reading the catalog of MongoDB at {where} failed: {error_text(exc, config)}",
                                 hint="the user needs the read role on the databases to list (or set database)"
                                 ) from exc
        except KeyError as exc:
            # See check.py: pymongo's KeyError('payload') means the server does not implement SCRAM login.
            if not config.user:
                raise
            raise ConnectionFailed(f"login to MongoDB at {where} as {config.user} refused: the server does not "
                                   f"support login (its SCRAM reply lacks {exc})",
                                   hint="leave user and password empty for this server") from exc
        except PyMongoError as exc:
            raise ConnectorError(f"reading the catalog of MongoDB at {where} failed: {error_text(exc, config)}"
                                 ) from exc
    return Catalog(engine="mongodb", tables=tables, databases=databases)
