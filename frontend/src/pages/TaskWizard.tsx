// The task wizard: source → target → tables → mapping and preview → mode and options → pre-check → create.
// The whole draft can be exported as JSON or pasted in.
import { Alert, App, Button, Card, Checkbox, Form, Input, InputNumber, Modal, Result, Select, Space, Spin, Steps, Table, Tree, Typography } from "antd";
import { useEffect, useMemo, useState } from "react";
import { useNavigate } from "react-router-dom";
import { api, ApiError, formErrors, list, query } from "../api";
import { CheckResult } from "../components/CheckResult";
import { useLoad } from "../hooks";
import { useT } from "../i18n";
import { can } from "../roles";
import { useRole, useSession } from "../session";
import { runPrecheck, type UnsavedPrecheck, verdict } from "../precheck";
import { createBody, exportSpec, importSpec, MODES, selectByRegex, type TaskDraft } from "../spec";
import type { Catalog, CheckReport, Datasource, Job } from "../types";
import { finishedJob } from "./Datasources";
import { NotFound } from "../App";

const EMPTY: TaskDraft = {
  name: "", description: "", source: null, target: null, mode: "full+incremental", tables: [],
  options: { rate_limit_rows: 0, parallelism: 2, ddl_policy: "apply", zero_date_policy: "null", dirty_data_policy: "fail" },
};
const FORM_FIELDS = ["name", "description", "source", "target", "mode", "tables", "mapping", "options.rate_limit_rows",
  "options.parallelism", "options.ddl_policy", "options.zero_date_policy", "options.dirty_data_policy", "options"];

export default function TaskWizard() {
  const t = useT();
  const role = useRole();
  const navigate = useNavigate();
  const { message } = App.useApp();
  const { workspace } = useSession();
  const [step, setStep] = useState(0);
  const [draft, setDraft] = useState<TaskDraft>(EMPTY);
  const [serverErrors, setServerErrors] = useState<{ fields: { name: string[]; errors: string[] }[]; other: string[] }>({ fields: [], other: [] });
  const [created, setCreated] = useState<{ id: number } | null>(null);
  const [pasting, setPasting] = useState(false);
  const [exporting, setExporting] = useState(false);
  const datasources = useLoad(() => list<Datasource>(`/api/datasources/${query({ workspace: workspace!.id })}`), [workspace!.id]);
  const ds = datasources.data ?? [];
  const update = (patch: Partial<TaskDraft>) => setDraft((d) => ({ ...d, ...patch }));
  const fieldError = (name: string) => serverErrors.fields.filter((f) => f.name.join(".") === name).flatMap((f) => f.errors);
  const status = (name: string) => (fieldError(name).length ? "error" : undefined);
  const help = (name: string) => (fieldError(name).length ? fieldError(name).join("; ") : undefined);

  if (!can(role, "operate")) return <NotFound />;

  // API errors go next to their field: back to the first step with one.
  const showErrors = (error: unknown) => {
    const mapped = formErrors(error, FORM_FIELDS);
    setServerErrors(mapped);
    const stepOf = (name: string) => (name.startsWith("options") || name === "mode" ? 4 : name === "mapping" ? 3 : name === "tables" ? 2 : name === "target" ? 1 : 0);
    const steps = mapped.fields.map((f) => stepOf(f.name.join(".")));
    if (steps.length) setStep(Math.min(...steps));
  };
  const create = async () => {
    setServerErrors({ fields: [], other: [] });
    try {
      setCreated(await api<{ id: number }>("/api/tasks/", { method: "POST", body: createBody(draft, workspace!.id) }));
    } catch (error) {
      showErrors(error);
    }
  };

  const steps = [
    { title: t("Source"), content: (
      <Form layout="vertical" style={{ maxWidth: 520 }}>
        <Form.Item label={t("Name")} required validateStatus={status("name")} help={help("name")}>
          <Input data-testid="task-name" value={draft.name} onChange={(e) => update({ name: e.target.value })} />
        </Form.Item>
        <Form.Item label={t("Source")} required validateStatus={status("source")} help={help("source") ?? (ds.length ? undefined : "No datasources yet: create one on the Datasources page first.")}>
          <Select data-testid="task-source" value={draft.source ?? undefined} onChange={(v: number) => update({ source: v, tables: [] })}
            options={ds.map((d) => ({ value: d.id, label: `${d.name} (${d.engine})` }))} />
        </Form.Item>
      </Form>
    ) },
    { title: t("Target"), content: (
      <Form layout="vertical" style={{ maxWidth: 520 }}>
        <Form.Item label={t("Target")} required validateStatus={status("target")} help={help("target")}>
          <Select data-testid="task-target" value={draft.target ?? undefined} onChange={(v: number) => update({ target: v })}
            options={ds.filter((d) => d.id !== draft.source).map((d) => ({ value: d.id, label: `${d.name} (${d.engine})` }))} />
        </Form.Item>
      </Form>
    ) },
    { title: t("Tables"), content: draft.source ? <TablePicker source={draft.source} draft={draft} update={update} error={help("tables")} /> : <Alert type="info" message={t("Choose a source first.")} /> },
    { title: t("Mapping"), content: <MappingStep draft={draft} update={update} workspace={workspace!.id} error={help("mapping")} /> },
    { title: t("Mode and options"), content: <OptionsStep draft={draft} update={update} status={status} help={help} /> },
    { title: t("Pre-check"), content: created ? <Prechecks taskId={created.id} onOpen={() => navigate(`/tasks/${created.id}`)} /> : (
      <PrecheckStep body={createBody(draft, workspace!.id)} onCreate={() => void create()} onErrors={showErrors} />
    ) },
  ];

  return (
    <Space orientation="vertical" style={{ width: "100%" }}>
      <Space style={{ justifyContent: "space-between", width: "100%" }}>
        <Typography.Title level={3}>{t("New task")}</Typography.Title>
        <Space>
          <Button onClick={() => setPasting(true)}>{t("Paste JSON")}</Button>
          <Button onClick={() => setExporting(true)}>{t("Export JSON")}</Button>
        </Space>
      </Space>
      <Steps current={step} items={steps.map((s) => ({ title: s.title }))} onChange={created ? undefined : setStep} />
      {serverErrors.other.map((m) => <Alert key={m} type="error" showIcon message={m} />)}
      <Card>{datasources.loading ? <Spin /> : steps[step].content}</Card>
      {!created && (
        <Space>
          {step > 0 && <Button onClick={() => setStep(step - 1)}>{t("Back")}</Button>}
          {step < steps.length - 1 && <Button type="primary" data-testid="wizard-next" onClick={() => setStep(step + 1)}>{t("Next")}</Button>}
        </Space>
      )}
      <SpecPaste open={pasting} onClose={() => setPasting(false)} onDraft={(d) => {
        setDraft(d);
        setPasting(false);
        message.success(t("Spec loaded: review each step, then create."));
      }} datasources={ds} />
      <Modal open={exporting} title={t("Export JSON")} footer={null} onCancel={() => setExporting(false)} width={640}>
        <Input.TextArea data-testid="spec-export" rows={16} readOnly value={exportSpec(draft, ds)} />
      </Modal>
    </Space>
  );
}

function SpecPaste({ open, onClose, onDraft, datasources }: { open: boolean; onClose: () => void; onDraft: (d: TaskDraft) => void; datasources: Datasource[] }) {
  const t = useT();
  const [text, setText] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  return (
    <Modal open={open} title={t("Paste a task spec (JSON)")} onCancel={onClose} onOk={() => {
      const result = importSpec(text, datasources);
      setErrors(result.errors);
      if (result.draft) onDraft(result.draft);
    }}>
      <Input.TextArea data-testid="spec-paste" rows={14} value={text} onChange={(e) => setText(e.target.value)}
        placeholder='{"name": "orders", "source": "mysql-src", "target": "pg-dst", "mode": "full+incremental", "tables": ["shop.orders"], "options": {}}' />
      {Object.entries(errors).map(([field, msg]) => <Alert key={field} type="error" showIcon message={`${field}: ${msg}`} />)}
    </Modal>
  );
}

function tableName(entry: TaskDraft["tables"][number]): string {
  return typeof entry === "string" ? entry : entry.source;
}

function TablePicker({ source, draft, update, error }: { source: number; draft: TaskDraft; update: (p: Partial<TaskDraft>) => void; error?: string }) {
  const t = useT();
  const [search, setSearch] = useState("");
  const [regex, setRegex] = useState("");
  const [regexError, setRegexError] = useState<string>();
  const catalog = useLoad(async () => {
    const job = await finishedJob(await api<Job<Catalog>>(`/api/datasources/${source}/catalog/?wait=20&refresh=1`));
    if (job.status === "failed") throw new Error(job.error || "Discovery failed");
    return job.result as Catalog;
  }, [source]);
  const all = useMemo(() => (catalog.data?.databases ?? []).flatMap((db) => db.tables.map((tb) => `${db.name}.${tb.name}`)), [catalog.data]);
  const selected = draft.tables.map(tableName);
  const setSelected = (names: string[]) => {
    const previous = new Map(draft.tables.map((e) => [tableName(e), e]));
    update({ tables: names.map((n) => previous.get(n) ?? n) });
  };
  if (catalog.error) return <Alert type="error" showIcon message={String(catalog.error)} />;
  if (catalog.loading) return <Spin tip={t("Reading the source's catalog…")}><div style={{ height: 60 }} /></Spin>;
  const lower = search.toLowerCase();
  const treeData = (catalog.data?.databases ?? []).map((db) => ({
    key: `db:${db.name}`,
    title: db.name,
    children: db.tables.filter((tb) => !lower || `${db.name}.${tb.name}`.toLowerCase().includes(lower)).map((tb) => ({
      key: `${db.name}.${tb.name}`,
      title: `${tb.name} (~${tb.estimated_rows ?? "?"} rows${tb.primary_key.length ? "" : ", no primary key"})`,
      isLeaf: true,
    })),
  })).filter((db) => db.children.length);
  return (
    <Space orientation="vertical" style={{ width: "100%" }}>
      <Space wrap>
        <Input.Search placeholder={t("Search")} allowClear onChange={(e) => setSearch(e.target.value)} style={{ width: 240 }} />
        <Input data-testid="regex" placeholder="^shop\.order" value={regex} onChange={(e) => setRegex(e.target.value)} style={{ width: 240 }} status={regexError ? "error" : undefined} />
        <Button data-testid="regex-select" onClick={() => {
          const result = selectByRegex(all, regex);
          setRegexError(result.error);
          if (!result.error) setSelected([...new Set([...selected, ...result.matched])]);
        }}>{t("Select by regex")}</Button>
        <Typography.Text>{selected.length} selected</Typography.Text>
      </Space>
      {regexError && <Alert type="error" message={regexError} />}
      {error && <Alert type="error" showIcon message={error} />}
      {treeData.length ? (
        <Tree checkable defaultExpandAll treeData={treeData} checkedKeys={selected}
          onCheck={(keys) => setSelected((Array.isArray(keys) ? keys : keys.checked).map(String).filter((k) => !k.startsWith("db:")))} />
      ) : <Alert type="info" message={t("No tables found: the source user sees no tables, or the search matches none.")} />}
    </Space>
  );
}

interface PreviewTable {
  source: string;
  target: string;
  target_schema: { name: string; type: string; nullable: boolean; primary_key: boolean }[];
  rows: Record<string, unknown>[];
  filtered_out: number;
}

function MappingStep({ draft, update, workspace, error }: { draft: TaskDraft; update: (p: Partial<TaskDraft>) => void; workspace: number; error?: string }) {
  const t = useT();
  const [mappingText, setMappingText] = useState(JSON.stringify(draft.mapping ?? {}, null, 2));
  const [mappingError, setMappingError] = useState<string>();
  const [preview, setPreview] = useState<PreviewTable[] | null>(null);
  const [previewError, setPreviewError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const rows = draft.tables.map((e) => (typeof e === "string" ? { source: e, target: "" } : { source: e.source, target: e.target ?? "" }));
  const setTarget = (source: string, target: string) =>
    update({ tables: rows.map((r) => {
      const name = r.source === source ? target : r.target;
      return name ? { source: r.source, target: name } : r.source; // empty: the default target name
    }) });
  return (
    <Space orientation="vertical" style={{ width: "100%" }}>
      <Table size="small" rowKey="source" pagination={false} dataSource={rows} locale={{ emptyText: t("Pick tables in the previous step.") }} columns={[
        { title: t("Source"), dataIndex: "source" },
        { title: t("Target"), render: (_, r) => <Input size="small" placeholder={t("same name (default)")} value={r.target} onChange={(e) => setTarget(r.source, e.target.value)} /> },
      ]} />
      <Typography.Text strong>{t("Mapping and transforms (JSON): naming, routes, per-table columns, filters, transforms")}</Typography.Text>
      <Input.TextArea data-testid="mapping-json" rows={6} value={mappingText} status={mappingError || error ? "error" : undefined} onChange={(e) => {
        setMappingText(e.target.value);
        try {
          const parsed = JSON.parse(e.target.value || "{}");
          if (typeof parsed !== "object" || Array.isArray(parsed) || parsed === null) throw new Error("must be a JSON object");
          setMappingError(undefined);
          update({ mapping: parsed });
        } catch (problem) {
          setMappingError(`mapping: ${(problem as Error).message}`);
        }
      }} placeholder='{"naming": {"case": "lower"}, "tables": {"shop.orders": {"columns": {"exclude": ["secret"]}, "filter": "amount > 0"}}}' />
      {(mappingError || error) && <Alert type="error" showIcon message={mappingError ?? error} />}
      <Button loading={busy} disabled={!draft.tables.length} onClick={async () => {
        setBusy(true);
        setPreviewError(undefined);
        try {
          const answer = await api<{ tables: PreviewTable[] }>("/api/tasks/preview/", { method: "POST", body: createBody(draft, workspace) });
          setPreview(answer.tables);
        } catch (problem) {
          setPreview(null);
          setPreviewError(problem instanceof ApiError && (problem.status === 404 || problem.status === 405)
            ? "This platform has no preview endpoint yet; the mapping is still validated when the task is created."
            : formErrors(problem, []).other.join("; "));
        } finally {
          setBusy(false);
        }
      }}>{t("Preview")}</Button>
      {previewError && <Alert type="warning" showIcon message={previewError} />}
      {preview?.map((p) => (
        <Card key={p.source} size="small" data-testid="preview-table" title={`${p.source} → ${p.target} (${p.filtered_out} filtered out)`}>
          <Typography.Text type="secondary">{p.target_schema.map((c) => `${c.name} ${c.type}${c.primary_key ? " PK" : ""}`).join(", ")}</Typography.Text>
          <Table size="small" pagination={false} rowKey={(_, i) => String(i)} dataSource={p.rows}
            columns={p.target_schema.map((c) => ({ title: c.name, dataIndex: c.name, render: (v: unknown) => JSON.stringify(v) }))} />
        </Card>
      ))}
    </Space>
  );
}

function OptionsStep({ draft, update, status, help }: { draft: TaskDraft; update: (p: Partial<TaskDraft>) => void; status: (n: string) => "error" | undefined; help: (n: string) => string | undefined }) {
  const t = useT();
  const opt = (name: string, value: unknown) => update({ options: { ...draft.options, [name]: value } });
  const select = (name: string, label: string, choices: string[]) => (
    <Form.Item label={t(label)} validateStatus={status(`options.${name}`)} help={help(`options.${name}`)}>
      <Select data-testid={`opt-${name}`} value={draft.options[name] as string} onChange={(v: string) => opt(name, v)} options={choices.map((c) => ({ value: c, label: c }))} />
    </Form.Item>
  );
  return (
    <Form layout="vertical" style={{ maxWidth: 520 }}>
      <Form.Item label={t("Mode")} validateStatus={status("mode")} help={help("mode")}>
        <Select data-testid="task-mode" value={draft.mode} onChange={(v: string) => update({ mode: v })} options={MODES.map((m) => ({ value: m, label: m }))} />
      </Form.Item>
      <Form.Item label={t("Rate limit (rows/s, 0 = none)")} validateStatus={status("options.rate_limit_rows")} help={help("options.rate_limit_rows")}>
        <InputNumber data-testid="opt-rate" min={0} value={draft.options.rate_limit_rows as number} onChange={(v) => opt("rate_limit_rows", v ?? 0)} />
      </Form.Item>
      <Form.Item label={t("Parallelism")} validateStatus={status("options.parallelism")} help={help("options.parallelism")}>
        <InputNumber min={1} max={64} value={draft.options.parallelism as number} onChange={(v) => opt("parallelism", v ?? 1)} />
      </Form.Item>
      {select("ddl_policy", "DDL policy", ["apply", "ignore", "fail", "review"])}
      {select("zero_date_policy", "Zero-date policy", ["null", "epoch", "string", "fail"])}
      {select("dirty_data_policy", "Dirty-data policy", ["fail", "quarantine"])}
      {status("options") && <Alert type="error" showIcon message={help("options")} />}
    </Form>
  );
}

/** The pre-check of the draft before it is created: results first, then Create (confirmed when an item failed). */
export function PrecheckStep({ body, onCreate, onErrors }: { body: ReturnType<typeof createBody>; onCreate: () => void; onErrors: (error: unknown) => void }) {
  const t = useT();
  const [check, setCheck] = useState<UnsavedPrecheck | null>(null);
  const [problem, setProblem] = useState<string>();
  const [checkedBody, setCheckedBody] = useState<string>();
  const [override, setOverride] = useState(false);
  const key = JSON.stringify(body);
  const run = async () => {
    setCheck(null);
    setProblem(undefined);
    setOverride(false);
    setCheckedBody(key);
    try {
      setCheck(await runPrecheck(body, 1000, setCheck));
    } catch (error) {
      if (error instanceof ApiError && error.status === 400) onErrors(error);
      else setProblem(error instanceof Error ? error.message : String(error));
    }
  };
  // Checked again whenever the draft changed since the last run (and on first entering this step).
  useEffect(() => {
    if (checkedBody !== key) void run();
  }, [key]);
  const result = verdict(check);
  const running = !problem && result === "running";
  const blocked = problem !== undefined || result === "failed";
  return (
    <Space orientation="vertical" style={{ width: "100%" }} data-testid="precheck-step" data-verdict={problem ? "error" : result}>
      <Typography.Paragraph>{t("The pre-check runs on a worker before anything is created: connections, permissions, binlog/WAL settings and every table's key.")}</Typography.Paragraph>
      {running && <Spin tip={`${t("Pre-check")}…`}><div style={{ height: 40 }} /></Spin>}
      {problem && <Alert type="error" showIcon message={problem} />}
      {check?.error && <Alert type="error" showIcon message={check.error} />}
      {check?.result && <CheckResult items={check.result.items} />}
      {result === "failed" && !running && (
        <Alert type="error" showIcon data-testid="precheck-failed" message={t("Some pre-check items failed: the task will probably not run until they are fixed.")} />
      )}
      {result === "warning" && <Alert type="warning" showIcon message={t("Some pre-check items warn: read their hints before starting the task.")} />}
      <Space wrap>
        <Button disabled={running} data-testid="precheck-again" onClick={() => void run()}>{t("Run the pre-check again")}</Button>
        {blocked && !running && (
          <Checkbox data-testid="precheck-override" checked={override} onChange={(e) => setOverride(e.target.checked)}>{t("Create it anyway")}</Checkbox>
        )}
        <Button type="primary" data-testid="task-create" disabled={running || (blocked && !override)} onClick={onCreate}>{t("Create")}</Button>
      </Space>
    </Space>
  );
}

function Prechecks({ taskId, onOpen }: { taskId: number; onOpen: () => void }) {
  const t = useT();
  const { data } = useLoad(() => list<Job<CheckReport>>(`/api/tasks/${taskId}/prechecks/`), [taskId], 1500);
  const latest = data?.[0];
  const done = latest && !["queued", "running", "pending"].includes(latest.status);
  return (
    <Space orientation="vertical" style={{ width: "100%" }}>
      <Result status="success" title={t("Task created")} subTitle={t("Its pre-check runs on a worker; start it from the task page.")} extra={<Button type="primary" data-testid="open-task" onClick={onOpen}>{t("Open task")}</Button>} />
      {!done && <Spin tip={`${t("Pre-check")}…`}><div style={{ height: 40 }} /></Spin>}
      {latest?.error && <Alert type="error" showIcon message={latest.error} />}
      {latest?.result && <CheckResult items={latest.result.items} />}
    </Space>
  );
}
