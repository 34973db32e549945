"""Pre-checks of a task before it runs: can it read, can it write, can every table be copied?

The report joins the source's checks (connection and source scope, plus the source-scope ones
only when the mode streams changes), the target's (connection and sink scope), and one item per
table: it exists, it has a key to apply changes by, its types are supported, its size.
"""

from __future__ import annotations

from connectors.base import CheckItem, CheckReport, CheckScope, CheckStatus
from connectors.errors import ConnectorError
from connectors.registry import connector_for, source_for
from connectors.spec import TaskSpec
from connectors.types import Kind

STREAMING_MODES = ("incremental", "full+incremental")


def precheck(spec: TaskSpec) -> CheckReport:
    report = CheckReport(engine=f"{spec.source.engine}->{spec.target.engine}")
    streaming = spec.mode in STREAMING_MODES
    source_report = connector_for(spec.source).check()
    for item in source_report.items:
        if item.scope == CheckScope.SINK or (item.scope == CheckScope.SOURCE and not streaming
                                              and item.name not in ("select_grant", "read_grants")):
            continue
        report.items.append(_prefixed("source", item))
    for item in connector_for(spec.target).check().items:
        if item.scope != CheckScope.SOURCE:
            report.items.append(_prefixed("target", item))
    report.server_version = source_report.server_version
    if source_report.status_for(CheckScope.CONNECTION) == CheckStatus.FAILED:
        report.skip_rest([(f"table:{m.source}", f"Table {m.source}", CheckScope.SOURCE) for m in spec.tables],
                         "the source cannot be reached")
        return report
    _check_tables(spec, report)
    if streaming:
        _check_stream(spec, report)
    return report


def _check_stream(spec: TaskSpec, report: CheckReport) -> None:
    """Source-specific needs of the change stream (PostgreSQL: replica identity per table, the task's slot)."""
    from connectors.pipeline.task import endpoint_configs  # the options the stream's source will get

    source = source_for(endpoint_configs(spec)[0])
    try:
        checks = getattr(source, "stream_checks", None)
        if checks is None:
            return
        try:
            items = checks([m.source for m in spec.tables], allow_no_primary_key=spec.options.allow_no_primary_key)
        except ConnectorError as exc:
            report.add("source.stream", "Source: change stream", CheckStatus.FAILED, str(exc), exc.hint,
                       CheckScope.SOURCE)
            return
        report.items.extend(_prefixed("source", item) for item in items)
    finally:
        source.close()


def _prefixed(side: str, item: CheckItem) -> CheckItem:
    return CheckItem(f"{side}.{item.name}", f"{side.capitalize()}: {item.title}", item.status, item.detail,
                     item.hint, item.scope)


def _check_tables(spec: TaskSpec, report: CheckReport) -> None:
    source = source_for(spec.source)
    try:
        estimates = _estimates(source)
        for mapping in spec.tables:
            name, title = f"table:{mapping.source}", f"Table {mapping.source} → {mapping.target}"
            try:
                schema = source.table_schema(mapping.source)
            except ConnectorError as exc:
                report.add(name, title, CheckStatus.FAILED, str(exc), exc.hint, CheckScope.SOURCE)
                continue
            unknown = [c.name for c in schema.columns if c.type.kind == Kind.UNKNOWN]
            rows = estimates.get(str(mapping.source))
            size = f"~{rows:,} rows" if rows is not None else "size unknown"
            if not schema.key_columns and spec.options.allow_no_primary_key:
                report.add(name, title, CheckStatus.WARNING,
                           f"no primary key or NOT NULL unique key ({size}): copied append-only, at least once",
                           "Updates append the new row and deletes are skipped (and logged); add a key for an "
                           "exact copy.", CheckScope.SOURCE)
            elif not schema.key_columns:
                report.add(name, title, CheckStatus.FAILED,
                           f"no primary key or NOT NULL unique key ({size}): changes cannot be applied by key",
                           "Add a primary key to the source table, or leave the table out of the task.",
                           CheckScope.SOURCE)
            elif unknown:
                report.add(name, title, CheckStatus.FAILED, f"unsupported column types: {', '.join(unknown)}",
                           "Leave these columns out (column mapping) or change their types.", CheckScope.SOURCE)
            else:
                key = ", ".join(schema.key_columns)
                report.add(name, title, CheckStatus.PASSED,
                           f"{len(schema.columns)} columns, key ({key}), {size}", scope=CheckScope.SOURCE)
    finally:
        source.close()


def _estimates(source: object) -> dict[str, int]:
    try:
        catalog = source.discover()  # type: ignore[attr-defined]
    except ConnectorError:
        return {}
    return {table.id: table.estimated_rows for table in catalog.tables if table.estimated_rows is not None}
