// A compare run: progress, counts, differences side by side (differing columns highlighted), repair.
import { Alert, App, Button, Card, Descriptions, Modal, Progress, Select, Space, Table, Tag, Typography } from "antd";
import { useState } from "react";
import { useParams } from "react-router-dom";
import { api, ApiError, type Page, query } from "../api";
import { differingColumns } from "../charts";
import { StatusTag } from "../components/CheckResult";
import { useLoad } from "../hooks";
import { useT } from "../i18n";
import { can } from "../roles";
import { useRole } from "../session";
import { PageError } from "../App";
import type { CompareRun as Run } from "./Compare";

interface Diff { id: number; table: string; source_table: string; key: Record<string, unknown>; kind: string; columns: string[]; source_row: Record<string, unknown> | null; target_row: Record<string, unknown> | null; repaired: boolean }
interface RepairRun { id: number; status: string; apply: boolean; requested: number; repaired: number; failed: number; verified_clean: boolean | null; error: string }

const DONE = ["completed", "failed", "stopped"];

export default function CompareRun() {
  const t = useT();
  const id = Number(useParams().id);
  const role = useRole();
  const { message } = App.useApp();
  const run = useLoad(() => api<Run>(`/api/compare-runs/${id}/`), [id], 2000);
  const [filter, setFilter] = useState<{ table?: string; kind?: string; page: number }>({ page: 1 });
  const diffs = useLoad(() => api<Page<Diff>>(`/api/compare-runs/${id}/diffs/${query(filter)}`), [id, filter.table, filter.kind, filter.page, run.data?.status]);
  const [selected, setSelected] = useState<number[]>([]);
  const [repair, setRepair] = useState<RepairRun | null>(null);
  const [sql, setSql] = useState<string | null>(null);
  if (run.error) return <PageError error={run.error} />;
  if (!run.data) return <Card loading />;
  const r = run.data;
  const p = r.progress;
  const startRepair = async (apply: boolean, all: boolean) => {
    try {
      let current = await api<RepairRun>(`/api/compare-runs/${id}/repair/`, { method: "POST", body: all ? { all: true, apply } : { diff_ids: selected, apply } });
      setRepair(current);
      while (!DONE.includes(current.status) && current.status !== "succeeded") {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        current = await api<RepairRun>(`/api/repair-runs/${current.id}/`);
        setRepair(current);
      }
      if (!apply) setSql(await api<string>(`/api/repair-runs/${current.id}/sql/`));
      await diffs.reload();
    } catch (error) {
      message.error(error instanceof ApiError ? error.message : String(error));
    }
  };
  const tables = [...new Set((diffs.data?.results ?? []).map((d) => d.table))];
  return (
    <Space orientation="vertical" style={{ width: "100%" }} size="middle">
      <Typography.Title level={3}>Compare run #{r.id} <span data-testid="run-status"><StatusTag status={r.status} /></span></Typography.Title>
      {r.error && <Alert type="error" showIcon message={r.error} />}
      <Card size="small">
        <Progress data-testid="run-progress" percent={p && p.chunks_total ? Math.floor((p.chunks_done / p.chunks_total) * 100) : r.status === "completed" ? 100 : 0} status={r.status === "failed" ? "exception" : undefined} />
        <Descriptions size="small" column={4} items={[
          { key: "rows", label: t("Rows"), children: p ? `${p.rows_done} / ${p.rows_total}` : "–" },
          { key: "missing", label: "Missing", children: <span data-testid="count-missing">{r.counts?.missing ?? "–"}</span> },
          { key: "extra", label: "Extra", children: <span data-testid="count-extra">{r.counts?.extra ?? "–"}</span> },
          { key: "different", label: "Different", children: <span data-testid="count-different">{r.counts?.different ?? "–"}</span> },
        ]} />
        {!DONE.includes(r.status) && can(role, "operate") && <Button onClick={() => void api(`/api/compare-runs/${id}/stop/`, { method: "POST" })}>{t("Stop")}</Button>}
      </Card>
      <Card size="small" title={t("Differences")} extra={can(role, "operate") && r.status === "completed" && (
        <Space>
          <Button data-testid="repair-all" type="primary" onClick={() => void startRepair(true, selected.length === 0)}>{t("Repair")} {selected.length ? `(${selected.length})` : "all"}</Button>
          <Button data-testid="repair-sql" onClick={() => void startRepair(false, selected.length === 0)}>{t("Export SQL")}</Button>
        </Space>
      )}>
        <Space style={{ marginBottom: 8 }}>
          <Select allowClear placeholder={t("Tables")} style={{ width: 220 }} value={filter.table} onChange={(table) => setFilter({ ...filter, table, page: 1 })} options={tables.map((x) => ({ value: x, label: x }))} />
          <Select allowClear placeholder={t("Kind")} style={{ width: 160 }} value={filter.kind} onChange={(kind) => setFilter({ ...filter, kind, page: 1 })} options={["missing", "extra", "different"].map((k) => ({ value: k, label: k }))} />
        </Space>
        {repair && <Alert data-testid="repair-status" type={repair.status === "failed" ? "error" : "info"} message={`Repair #${repair.id}: ${repair.status}; repaired ${repair.repaired} of ${repair.requested}, failed ${repair.failed}${repair.verified_clean === true ? "; re-verified clean" : repair.verified_clean === false ? "; re-verify found differences" : ""}`} />}
        <Table data-testid="diffs" size="small" rowKey="id" loading={diffs.loading} dataSource={diffs.data?.results ?? []}
          rowSelection={can(role, "operate") ? { selectedRowKeys: selected, onChange: (keys) => setSelected(keys.map(Number)) } : undefined}
          pagination={{ current: filter.page, total: diffs.data?.count ?? 0, pageSize: 50, onChange: (page) => setFilter({ ...filter, page }) }}
          locale={{ emptyText: r.status === "completed" ? "No differences: the target holds exactly the source's rows." : "Differences appear here as the run finds them." }}
          columns={[
            { title: t("Tables"), dataIndex: "table" },
            { title: t("Key"), render: (_, d) => JSON.stringify(d.key) },
            { title: t("Kind"), render: (_, d) => <Tag color={d.kind === "different" ? "orange" : "red"}>{d.kind}</Tag> },
            { title: `${t("Source")} / ${t("Target")}`, render: (_, d) => <SideBySide diff={d} /> },
            { title: "", render: (_, d) => d.repaired && <Tag color="green">repaired</Tag> },
          ]} />
      </Card>
      <Modal open={sql !== null} width={800} title={t("Repair SQL")} footer={null} onCancel={() => setSql(null)}>
        <pre data-testid="repair-sql-text" style={{ maxHeight: 480, overflow: "auto" }}>{sql}</pre>
      </Modal>
    </Space>
  );
}

function SideBySide({ diff }: { diff: Diff }) {
  const differing = new Set(diff.columns.length ? diff.columns : differingColumns(diff.source_row, diff.target_row));
  const names = [...new Set([...Object.keys(diff.source_row ?? {}), ...Object.keys(diff.target_row ?? {})])];
  return (
    <table style={{ borderCollapse: "collapse", fontSize: 12 }}>
      <thead><tr><th /><th>source</th><th>target</th></tr></thead>
      <tbody>
        {names.map((n) => (
          <tr key={n} style={{ background: differing.has(n) ? "#fff1f0" : undefined }} data-differs={differing.has(n) ? "yes" : "no"}>
            <td style={{ paddingRight: 8 }}><b>{n}</b></td>
            <td style={{ paddingRight: 8 }}>{diff.source_row ? JSON.stringify(diff.source_row[n]) : "—"}</td>
            <td>{diff.target_row ? JSON.stringify(diff.target_row[n]) : "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
