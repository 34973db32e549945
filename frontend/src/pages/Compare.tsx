// Compare: create (and schedule) a compare of a source and a target, run it, follow its runs.
import { Alert, App, Button, Form, Input, InputNumber, Modal, Select, Space, Table, Typography } from "antd";
import { useState } from "react";
import { Link } from "react-router-dom";
import { api, ApiError, formErrors, list, query } from "../api";
import { StatusTag } from "../components/CheckResult";
import { useLoad } from "../hooks";
import { useT } from "../i18n";
import { can } from "../roles";
import { useRole, useSession } from "../session";
import type { Datasource, Task } from "../types";
import { PageError } from "../App";

export interface CompareTask {
  id: number; workspace: number; name: string; source: number; target: number; sync_task: number | null;
  tables: (string | { source: string; target?: string })[]; mode: string; sample_percent: number | null;
  options: Record<string, unknown>; schedule: string | null; created_at: string; last_run: CompareRun | number | null;
}
export interface CompareRun {
  id: number; compare_task: number; status: string;
  progress: { chunks_done: number; chunks_total: number; rows_done: number; rows_total: number } | null;
  counts: { missing: number; extra: number; different: number } | null;
  started_at: string | null; finished_at: string | null; duration_seconds: number | null; error: string;
}

/** The newest run of a compare, whatever order the API lists runs in. */
export function latestRun(runs: CompareRun[], compareTask: number): CompareRun | undefined {
  return runs.filter((r) => r.compare_task === compareTask).sort((a, b) => b.id - a.id)[0];
}

export const CRON_HELP = "Cron 'minute hour day month weekday', e.g. '0 3 * * *' for every day at 03:00 UTC; empty = run by hand.";

export default function Compare() {
  const t = useT();
  const { workspace } = useSession();
  const role = useRole();
  const { message } = App.useApp();
  const ws = workspace!.id;
  const compares = useLoad(() => list<CompareTask>(`/api/compare-tasks/${query({ workspace: ws })}`), [ws], 5000);
  const runs = useLoad(() => list<CompareRun>("/api/compare-runs/"), [ws], 3000);
  const [creating, setCreating] = useState(false);
  if (compares.error instanceof ApiError && compares.error.status === 404) {
    return <Alert type="info" showIcon message={t("Data compare is not available on this platform version yet.")} />;
  }
  if (compares.error) return <PageError error={compares.error} />;
  const run = async (compare: CompareTask) => {
    try {
      await api(`/api/compare-tasks/${compare.id}/run/`, { method: "POST" });
      await runs.reload();
    } catch (error) {
      message.error(error instanceof ApiError ? error.message : String(error));
    }
  };
  return (
    <Space orientation="vertical" style={{ width: "100%" }}>
      <Space style={{ justifyContent: "space-between", width: "100%" }}>
        <Typography.Title level={3}>{t("Compare")}</Typography.Title>
        {can(role, "operate") && <Button type="primary" data-testid="compare-new" onClick={() => setCreating(true)}>{t("Create")}</Button>}
      </Space>
      <Table rowKey="id" loading={compares.loading} dataSource={compares.data ?? []}
        locale={{ emptyText: t("No compares yet: create one to check that a target holds exactly the source's rows.") }}
        expandable={{ expandedRowRender: (c) => <RunsTable runs={(runs.data ?? []).filter((r) => r.compare_task === c.id).sort((a, b) => b.id - a.id)} /> }}
        columns={[
          { title: t("Name"), dataIndex: "name" },
          { title: t("Mode"), dataIndex: "mode" },
          { title: t("Schedule"), render: (_, c) => c.schedule ?? "by hand" },
          { title: t("Last run"), render: (_, c) => {
            const last = latestRun(runs.data ?? [], c.id);
            return <span data-testid={`last-run-${c.name}`}>{last ? <Link to={`/compare/runs/${last.id}`}><StatusTag status={last.status} /> #{last.id}</Link> : "never"}</span>;
          } },
          { title: t("Actions"), render: (_, c) => can(role, "operate") && <Button size="small" data-testid={`compare-run-${c.name}`} onClick={() => void run(c)}>{t("Run")}</Button> },
        ]} />
      {creating && <CompareForm workspace={ws} onClose={async (saved) => { setCreating(false); if (saved) await compares.reload(); }} />}
    </Space>
  );
}

function RunsTable({ runs }: { runs: CompareRun[] }) {
  const t = useT();
  return (
    <Table size="small" rowKey="id" pagination={false} dataSource={runs} locale={{ emptyText: t("Not run yet.") }} columns={[
      { title: t("Run"), render: (_, r) => <Link to={`/compare/runs/${r.id}`}>#{r.id}</Link> },
      { title: t("Status"), render: (_, r) => <StatusTag status={r.status} /> },
      { title: t("Missing / extra / different"), render: (_, r) => r.counts ? `${r.counts.missing} / ${r.counts.extra} / ${r.counts.different}` : "–" },
      { title: t("Duration (s)"), dataIndex: "duration_seconds" },
    ]} />
  );
}

const FIELDS = ["name", "source", "target", "sync_task", "tables", "mode", "sample_percent", "schedule", "options"];

function CompareForm({ workspace, onClose }: { workspace: number; onClose: (saved: boolean) => void }) {
  const t = useT();
  const [form] = Form.useForm();
  const [other, setOther] = useState<string[]>([]);
  const ds = useLoad(() => list<Datasource>(`/api/datasources/${query({ workspace })}`), [workspace]);
  const tasks = useLoad(() => list<Task>(`/api/tasks/${query({ workspace })}`), [workspace]);
  const mode = Form.useWatch("mode", form);
  const syncTask = Form.useWatch("sync_task", form);
  return (
    <Modal open width={640} title={t("New compare")} onCancel={() => onClose(false)} onOk={() => form.submit()}>
      <Form form={form} layout="vertical" initialValues={{ mode: "full", sample_percent: 10, tables: "", options: { float_tolerance: 0 } }}
        data-testid="compare-form"
        onValuesChange={(changed) => {
          const task = (tasks.data ?? []).find((x) => x.id === changed.sync_task);
          if (task) form.setFieldsValue({ source: task.source, target: task.target });
        }}
        onFinish={async (values) => {
          setOther([]);
          const body = { ...values, workspace, sync_task: values.sync_task ?? null, schedule: values.schedule || null,
            tables: values.sync_task ? [] : String(values.tables ?? "").split(/[\s,]+/).filter(Boolean) };
          try {
            await api("/api/compare-tasks/", { method: "POST", body });
            onClose(true);
          } catch (error) {
            const mapped = formErrors(error, FIELDS.concat(["options.rate_limit_rows", "options.max_source_threads_running", "options.chunk_size", "options.float_tolerance"]));
            form.setFields(mapped.fields);
            setOther(mapped.other);
          }
        }}>
        <Form.Item name="name" label={t("Name")} rules={[{ required: true }]}><Input /></Form.Item>
        <Form.Item name="sync_task" label={t("Sync task (optional: compares its tables, source and target)")}>
          <Select allowClear options={(tasks.data ?? []).map((x) => ({ value: x.id, label: x.name }))} />
        </Form.Item>
        <Form.Item name="source" label={t("Source")} rules={[{ required: true }]}><Select disabled={!!syncTask} options={(ds.data ?? []).map((d) => ({ value: d.id, label: d.name }))} /></Form.Item>
        <Form.Item name="target" label={t("Target")} rules={[{ required: true }]}><Select disabled={!!syncTask} options={(ds.data ?? []).map((d) => ({ value: d.id, label: d.name }))} /></Form.Item>
        {!syncTask && <Form.Item name="tables" label={`${t("Tables")} (db.table, one per line)`}><Input.TextArea rows={3} /></Form.Item>}
        <Form.Item name="mode" label={t("Mode")}><Select options={["full", "sample", "count"].map((m) => ({ value: m, label: m }))} /></Form.Item>
        {mode === "sample" && <Form.Item name="sample_percent" label={t("Sample %")}><InputNumber min={0.01} max={100} /></Form.Item>}
        <Form.Item name="schedule" label={t("Schedule")} extra={CRON_HELP}><Input placeholder="0 3 * * *" /></Form.Item>
        <Space wrap>
          <Form.Item name={["options", "rate_limit_rows"]} label={t("Rate limit (rows/s)")}><InputNumber min={0} /></Form.Item>
          <Form.Item name={["options", "max_source_threads_running"]} label={t("Pause above source threads running")}><InputNumber min={0} /></Form.Item>
          <Form.Item name={["options", "chunk_size"]} label={t("Chunk size")}><InputNumber min={1} /></Form.Item>
          <Form.Item name={["options", "float_tolerance"]} label={t("Float tolerance")}><InputNumber min={0} step={0.0001} /></Form.Item>
        </Space>
        {other.map((m) => <Alert key={m} type="error" showIcon message={m} />)}
      </Form>
    </Modal>
  );
}
