// Task detail: state and actions, per-table snapshot progress with ETA, live lag and throughput charts
// (WebSocket), position, logs, quarantine, DDL inbox and run history.
import { Alert, App, Button, Card, Col, Descriptions, Empty, Input, Modal, Popconfirm, Progress, Row, Select, Space, Statistic, Table, Tabs, Tag, Typography } from "antd";
import { useCallback, useState } from "react";
import { useNavigate, useParams } from "react-router-dom";
import { api, ApiError, list, query } from "../api";
import { appendPoint, etaSeconds, formatDuration, type HistoryPoint, humanBytes, percent, type Series, seriesFrom } from "../charts";
import { StatusTag } from "../components/CheckResult";
import { TimeChart } from "../components/Chart";
import { useLoad } from "../hooks";
import { useT } from "../i18n";
import { type LiveMessage, useTaskLive } from "../live";
import { can } from "../roles";
import { useRole } from "../session";
import type { Datasource, TableProgress, Task } from "../types";
import { PageError } from "../App";

interface LogLine { at: string | number; level: string; message: string }

interface LiveState {
  status?: string;
  state?: string;
  phase?: string | null;
  lag: Series;
  rps: Series;
  tables: Record<string, TableProgress>;
  position?: unknown;
  rowsPerSecond?: number | null;
  lagSeconds?: number | null;
  logs: LogLine[];
}

function mergeTables(state: Record<string, TableProgress>, rows: TableProgress[]): Record<string, TableProgress> {
  const next = { ...state };
  for (const row of rows) next[row.table] = row;
  return next;
}

/** Applies one WebSocket message to the page's live state. */
export function applyLive(state: LiveState, message: LiveMessage, nowMs = Date.now()): LiveState {
  if (message.type === "task_metrics") {
    const at = typeof message.evaluated_at === "number" ? message.evaluated_at * 1000 : nowMs;
    const progress = message.progress as { phase?: string; per_table?: TableProgress[] } | undefined;
    return {
      ...state,
      status: message.status as string,
      state: (message.state as string | undefined) ?? state.state,
      phase: progress?.phase ?? state.phase,
      lag: appendPoint(state.lag, at, message.lag_seconds as number | null | undefined),
      rps: appendPoint(state.rps, at, message.rows_per_second as number | null | undefined),
      tables: mergeTables(state.tables, progress?.per_table ?? []),
      position: message.position ?? state.position,
      lagSeconds: (message.lag_seconds as number | null | undefined) ?? state.lagSeconds,
      rowsPerSecond: (message.rows_per_second as number | null | undefined) ?? state.rowsPerSecond,
      logs: (message.logs as LogLine[] | undefined)?.length ? (message.logs as LogLine[]) : state.logs,
    };
  }
  const at = typeof message.at === "number" ? message.at * 1000 : nowMs;
  const changed = (message.changed as string[] | undefined) ?? [];
  return {
    ...state,
    phase: (message.phase as string | null) ?? state.phase,
    rps: changed.includes("applied") ? appendPoint(state.rps, at, message.rows_per_second as number | null) : state.rps,
    tables: mergeTables(state.tables, (message.tables as TableProgress[] | undefined) ?? []),
    position: message.position ?? state.position,
    rowsPerSecond: (message.rows_per_second as number | null | undefined) ?? state.rowsPerSecond,
    logs: [...state.logs, ...((message.logs as LogLine[] | undefined) ?? [])].slice(-50),
  };
}

export default function TaskDetail() {
  const t = useT();
  const id = Number(useParams().id);
  const role = useRole();
  const navigate = useNavigate();
  const { message } = App.useApp();
  const task = useLoad(() => api<Task>(`/api/tasks/${id}/`), [id], 5000);
  const [live, setLive] = useState<LiveState>({ lag: [], rps: [], tables: {}, logs: [] });
  useLoad(async () => {
    const [progress, metrics] = await Promise.all([
      api<{ source_table: string; rows_done: number; rows_estimate: number | null; chunks_done: number; chunks_total: number; finished: boolean }[]>(`/api/tasks/${id}/progress/`),
      api<{ history: HistoryPoint[] }>(`/api/tasks/${id}/metrics/`),
    ]);
    setLive((s) => ({
      ...s,
      lag: s.lag.length ? s.lag : seriesFrom(metrics.history, "lag"),
      rps: s.rps.length ? s.rps : seriesFrom(metrics.history, "rps"),
      tables: mergeTables(Object.fromEntries(progress.map((p) => [p.source_table, { ...p, table: p.source_table }])), Object.values(s.tables)),
    }));
  }, [id]);
  const onMessage = useCallback((m: LiveMessage) => setLive((s) => applyLive(s, m)), []);
  const socket = useTaskLive(id, onMessage, task.data !== undefined);
  const source = useLoad(() => (task.data ? api<Datasource>(`/api/datasources/${task.data.source}/`) : Promise.resolve(undefined)), [task.data?.source]);
  const [adding, setAdding] = useState(false);
  const [newTables, setNewTables] = useState("");

  if (task.error) return <PageError error={task.error} />;
  if (!task.data) return <Card loading />;
  const data = task.data;
  const status = live.status ?? data.status;
  const act = async (action: string) => {
    try {
      task.setData(await api<Task>(`/api/tasks/${id}/${action}/`, { method: "POST" }));
      message.success(`${action}: requested`);
    } catch (error) {
      message.error(error instanceof ApiError ? error.message : String(error));
    }
  };
  const active = ["queued", "running", "paused"].includes(status);
  const tables = Object.values(live.tables);
  return (
    <Space orientation="vertical" style={{ width: "100%" }} size="middle">
      <Space style={{ justifyContent: "space-between", width: "100%" }} wrap>
        <Typography.Title level={3} style={{ margin: 0 }}>{data.name} <span data-testid="task-status"><StatusTag status={status} /></span>
          {live.phase && <Tag data-testid="task-phase">{live.phase}</Tag>}
        </Typography.Title>
        {can(role, "operate") && (
          <Space data-testid="task-actions">
            {!active && <Button type="primary" data-testid="task-start" onClick={() => void act(status === "stopped" || status === "failed" ? "resume" : "start")}>{status === "stopped" || status === "failed" ? t("Resume") : t("Start")}</Button>}
            {active && <Button data-testid="task-stop" onClick={() => void act("stop")}>{t("Stop")}</Button>}
            {!active && <Popconfirm title={t("Forget the position and copy everything again?")} onConfirm={() => void act("restart")}><Button>{t("Restart")}</Button></Popconfirm>}
            <Button onClick={() => setAdding(true)}>{t("Add tables")}</Button>
            {!active && (
              <Popconfirm title={`Delete task ${data.name}? Its history goes too; the target data stays.`} onConfirm={async () => {
                try {
                  await api(`/api/tasks/${id}/`, { method: "DELETE" });
                  navigate("/tasks");
                } catch (error) {
                  message.error(String(error));
                }
              }}><Button danger data-testid="task-delete">{t("Delete")}</Button></Popconfirm>
            )}
          </Space>
        )}
      </Space>
      {data.status_message && <Alert type={status === "failed" ? "error" : "info"} message={data.status_message} />}
      {socket === "refused" && <Alert type="warning" message={t("Live updates were refused: sign in again.")} />}
      <Row gutter={16}>
        <Col span={6}><Card><Statistic title={`${t("Lag")} (s)`} value={live.lagSeconds ?? "–"} precision={live.lagSeconds == null ? undefined : 1} /></Card></Col>
        <Col span={6}><Card><Statistic title={t("rows/s")} value={live.rowsPerSecond == null ? "–" : Math.round(live.rowsPerSecond)} /></Card></Col>
        <Col span={12}><Card><Descriptions size="small" column={1} items={[
          { key: "p", label: t("Current position"), children: <code data-testid="task-position">{live.position ? JSON.stringify(live.position) : "–"}</code> },
          { key: "m", label: t("Mode"), children: data.mode },
          { key: "ws", label: "Live", children: <Tag data-testid="socket-state" color={socket === "open" ? "green" : "default"}>{socket}</Tag> },
        ]} /></Card></Col>
      </Row>
      {source.data?.engine === "postgresql" && <SlotCard taskId={id} state={live.state} />}
      <Card title={t("Snapshot progress")} size="small">
        {tables.length ? tables.map((row) => {
          const pct = percent(row.rows_done, row.rows_estimate, row.finished, row.chunks_done, row.chunks_total);
          return (
            <div key={row.table} data-testid="table-progress" data-table={row.table} data-percent={pct}>
              <Typography.Text>{row.table}: {row.rows_done.toLocaleString()} / {row.rows_estimate?.toLocaleString() ?? "?"} {t("Rows")}
                {!row.finished && ` · ${t("ETA")} ${formatDuration(etaSeconds(row.rows_done, row.rows_estimate, live.rowsPerSecond))}`}</Typography.Text>
              <Progress percent={pct} status={row.finished ? "success" : "active"} />
            </div>
          );
        }) : <Empty description={t("No snapshot yet: start the task to copy the existing rows.")} />}
      </Card>
      <Row gutter={16}>
        <Col span={12}><Card title={`${t("Lag")} (s)`} size="small"><TimeChart testId="lag-chart" series={live.lag} name="lag" unit="s" /></Card></Col>
        <Col span={12}><Card title={`${t("Throughput")} (${t("rows/s")})`} size="small"><TimeChart testId="rps-chart" series={live.rps} name="rows/s" unit="rows/s" /></Card></Col>
      </Row>
      <Tabs items={[
        { key: "logs", label: t("Recent logs"), children: <Logs taskId={id} live={live.logs} /> },
        { key: "quarantine", label: t("Quarantine"), children: <Quarantine taskId={id} canOperate={can(role, "operate")} /> },
        { key: "ddl", label: t("DDL inbox"), children: <DdlInbox taskId={id} canOperate={can(role, "operate")} /> },
        { key: "runs", label: t("Run history"), children: <Runs taskId={id} /> },
      ]} />
      <Modal open={adding} title={t("Add tables")} onCancel={() => setAdding(false)} onOk={async () => {
        const names = newTables.split(/[\s,]+/).filter(Boolean);
        try {
          task.setData(await api<Task>(`/api/tasks/${id}/`, { method: "PATCH", body: { tables: [...data.tables, ...names] } }));
          setAdding(false);
          setNewTables("");
        } catch (error) {
          message.error(error instanceof ApiError ? error.message : String(error));
        }
      }}>
        <Typography.Paragraph>{t("One \"db.table\" per line; they are copied and streamed from the next start.")}</Typography.Paragraph>
        <Input.TextArea rows={5} value={newTables} onChange={(e) => setNewTables(e.target.value)} />
      </Modal>
    </Space>
  );
}

interface SlotMetrics { current: { state?: string; retained_wal_bytes?: number | null; lease_held?: boolean; evaluated_at?: number } | null }

/** A PostgreSQL-source task's replication slot: its name, the WAL it keeps on the source, its state. */
function SlotCard({ taskId, state }: { taskId: number; state?: string }) {
  const t = useT();
  // The retained WAL is part of the monitor's lag record (not of the WebSocket summary): polled.
  const metrics = useLoad(() => api<SlotMetrics>(`/api/tasks/${taskId}/metrics/`), [taskId], 10000);
  const current = metrics.data?.current;
  const retained = current?.retained_wal_bytes;
  return (
    <Card title={t("Replication slot")} size="small" data-testid="pg-slot">
      <Descriptions size="small" column={3} items={[
        { key: "slot", label: t("Slot"), children: <code data-testid="pg-slot-name">{`dts_task_${taskId}`}</code> },
        { key: "wal", label: t("Retained WAL"), children: <span data-testid="pg-slot-wal" data-bytes={retained ?? ""} title={retained == null ? undefined : `${retained.toLocaleString()} bytes`}>{retained == null ? t("not measured yet") : humanBytes(retained)}</span> },
        { key: "state", label: t("State"), children: <Space data-testid="pg-slot-state">
          <StatusTag status={state ?? current?.state ?? "unknown"} />
          {current && <Tag>{current.lease_held ? t("in use") : t("idle")}</Tag>}
        </Space> },
      ]} />
    </Card>
  );
}

function Logs({ taskId, live }: { taskId: number; live: LogLine[] }) {
  const t = useT();
  const { data } = useLoad(() => list<LogLine>(`/api/tasks/${taskId}/logs/`), [taskId], 10000);
  const lines = live.length ? live : [...(data ?? [])].reverse();
  if (!lines.length) return <Empty description={t("No log lines yet.")} />;
  return (
    <pre data-testid="task-logs" style={{ maxHeight: 300, overflow: "auto", background: "#fafafa", padding: 8 }}>
      {lines.map((l) => `${typeof l.at === "number" ? new Date(l.at * 1000).toISOString() : l.at} ${l.level.toUpperCase()} ${l.message}`).join("\n")}
    </pre>
  );
}

interface QuarantinedRow { id: number; source_table: string; key: Record<string, unknown>; row: Record<string, unknown>; column: string; error: string; created_at: string }

function Quarantine({ taskId, canOperate }: { taskId: number; canOperate: boolean }) {
  const t = useT();
  const { message } = App.useApp();
  const [table, setTable] = useState<string | undefined>();
  const rows = useLoad(() => list<QuarantinedRow>(`/api/tasks/${taskId}/quarantine/${query({ table })}`), [taskId, table]);
  // Rows per table, for the filter; older platforms have no counts endpoint, and then there is no filter.
  const counts = useLoad(() => api<Record<string, number>>(`/api/tasks/${taskId}/quarantine/counts/`).catch(() => ({})), [taskId, rows.data]);
  const [editing, setEditing] = useState<QuarantinedRow | null>(null);
  const [text, setText] = useState("");
  const [editError, setEditError] = useState<string>();
  const replay = async (body: { ids: number[] } | { all: true }) => {
    try {
      const result = await api<{ replayed: number; failed: { id: number; error: string }[] }>(`/api/tasks/${taskId}/quarantine/replay/`, { method: "POST", body });
      if (result.failed.length) message.warning(`${t("Replayed")} ${result.replayed}, ${t("failed")} ${result.failed.length}: ${result.failed[0].error}`);
      else message.success(`${t("Replayed")} ${result.replayed}`);
      await rows.reload();
    } catch (error) {
      message.error(error instanceof ApiError && error.status === 404 ? "Replay is not available on this platform yet." : String(error));
    }
  };
  if (rows.error) return <Alert type="error" message={String(rows.error)} />;
  return (
    <Space orientation="vertical" style={{ width: "100%" }}>
      <Space>
        {Object.keys(counts.data ?? {}).length > 0 && (
          <Select allowClear placeholder="table" style={{ width: 260 }} value={table} onChange={setTable}
            options={Object.entries(counts.data ?? {}).map(([name, n]) => ({ value: name, label: `${name} (${n})` }))} />
        )}
        {canOperate && !!rows.data?.length && <Button onClick={() => void replay(table ? { ids: rows.data!.map((r) => r.id) } : { all: true })}>{table ? t("Replay shown rows") : t("Replay all")}</Button>}
      </Space>
      <Table size="small" rowKey="id" dataSource={rows.data ?? []} loading={rows.loading}
        locale={{ emptyText: t("Nothing quarantined: rows the target refuses land here when the dirty-data policy is 'quarantine'.") }}
        columns={[
          { title: t("Table"), dataIndex: "source_table" },
          { title: t("Key"), render: (_, r) => JSON.stringify(r.key) },
          { title: t("Column"), dataIndex: "column" },
          { title: t("Error"), dataIndex: "error" },
          ...(canOperate ? [{ title: "", render: (_: unknown, r: QuarantinedRow) => (
            <Space>
              <Button size="small" onClick={() => { setEditing(r); setText(JSON.stringify(r.row, null, 2)); setEditError(undefined); }}>{t("Edit")}</Button>
              <Button size="small" onClick={() => void replay({ ids: [r.id] })}>{t("Replay")}</Button>
              <Popconfirm title={t("Discard this row? It will not reach the target.")} onConfirm={async () => {
                await api(`/api/tasks/${taskId}/quarantine/${r.id}/`, { method: "DELETE" });
                await rows.reload();
              }}><Button size="small" danger>{t("Discard")}</Button></Popconfirm>
            </Space>
          ) }] : []),
        ]} />
      <Modal open={!!editing} title={t("Edit the quarantined row")} onCancel={() => setEditing(null)} onOk={async () => {
        try {
          await api(`/api/tasks/${taskId}/quarantine/${editing!.id}/`, { method: "PATCH", body: { row: JSON.parse(text) } });
          setEditing(null);
          await rows.reload();
        } catch (error) {
          setEditError(error instanceof SyntaxError ? `row: not valid JSON (${error.message})` : error instanceof ApiError ? error.message : String(error));
        }
      }}>
        <Input.TextArea rows={10} value={text} onChange={(e) => setText(e.target.value)} status={editError ? "error" : undefined} />
        {editError && <Alert type="error" message={editError} />}
      </Modal>
    </Space>
  );
}

interface DdlItem { id: number; source_table: string; target_table: string; source_ddl: string; target_statement: string; status: string; created_at: string; decided_by: string | null; error: string }

function DdlInbox({ taskId, canOperate }: { taskId: number; canOperate: boolean }) {
  const t = useT();
  const { message } = App.useApp();
  const items = useLoad(() => api<DdlItem[] | { results: DdlItem[] }>(`/api/tasks/${taskId}/ddl-inbox/`).then((d) => (Array.isArray(d) ? d : d.results)), [taskId], 10000);
  const [edits, setEdits] = useState<Record<number, string>>({});
  if (items.error instanceof ApiError && items.error.status === 404) {
    return <Alert type="info" message={t("The DDL inbox is not available on this platform version yet.")} />;
  }
  if (items.error) return <Alert type="error" message={String(items.error)} />;
  const decide = async (item: DdlItem, verb: "approve" | "ignore") => {
    try {
      const body = verb === "approve" && edits[item.id] !== undefined ? { target_statement: edits[item.id] } : {};
      await api(`/api/tasks/${taskId}/ddl-inbox/${item.id}/${verb}/`, { method: "POST", body });
      await items.reload();
    } catch (error) {
      message.error(error instanceof ApiError ? error.message : String(error));
    }
  };
  return (
    <Table size="small" rowKey="id" dataSource={items.data ?? []} loading={items.loading}
      locale={{ emptyText: t("No schema changes waiting: with the DDL policy 'review', source DDL waits here for approval.") }}
      columns={[
        { title: t("Table"), render: (_, i) => `${i.source_table} → ${i.target_table}` },
        { title: t("Source DDL"), dataIndex: "source_ddl", render: (v: string) => <code>{v}</code> },
        { title: t("Target statement"), render: (_, i) => canOperate && i.status === "pending"
          ? <Input.TextArea rows={2} value={edits[i.id] ?? i.target_statement} onChange={(e) => setEdits({ ...edits, [i.id]: e.target.value })} />
          : <code>{i.target_statement}</code> },
        { title: t("Status"), render: (_, i) => <Space><StatusTag status={i.status} />{i.error}</Space> },
        ...(canOperate ? [{ title: "", render: (_: unknown, i: DdlItem) => i.status === "pending" && (
          <Space><Button size="small" type="primary" onClick={() => void decide(i, "approve")}>{t("Approve")}</Button>
            <Button size="small" onClick={() => void decide(i, "ignore")}>{t("Ignore")}</Button></Space>) }] : []),
      ]} />
  );
}

function Runs({ taskId }: { taskId: number }) {
  const t = useT();
  const { data, loading } = useLoad(() => list<{ id: number; status: string; worker: string; started_at: string; finished_at: string | null; error: string }>(`/api/tasks/${taskId}/runs/`), [taskId], 10000);
  return (
    <Table size="small" rowKey="id" loading={loading} dataSource={data ?? []} locale={{ emptyText: t("Never run yet.") }} columns={[
      { title: t("Started"), dataIndex: "started_at" },
      { title: t("Finished"), dataIndex: "finished_at" },
      { title: t("Status"), render: (_, r) => <StatusTag status={r.status} /> },
      { title: t("Worker"), dataIndex: "worker" },
      { title: t("Error"), dataIndex: "error" },
    ]} />
  );
}
