// Datasources: list with the last check, a form generated from the engine, check results with fix hints,
// and the catalog browser (databases → tables → columns).
import { Alert, App, Button, Drawer, Empty, Form, Input, InputNumber, Modal, Popconfirm, Select, Space, Spin, Table, Tree, Typography } from "antd";
import { useState } from "react";
import { api, formErrors, list, query } from "../api";
import { CheckResult, StatusTag } from "../components/CheckResult";
import { datasourceBody, datasourceFields, ENGINES, type DatasourceForm } from "../engines";
import { useLoad } from "../hooks";
import { useT } from "../i18n";
import { can } from "../roles";
import { useRole, useSession } from "../session";
import type { Catalog, CheckReport, Datasource, Job } from "../types";
import { PageError } from "../App";

/** Polls a datasource job after a 202 until it is done. */
export async function finishedJob<R>(job: Job<R>): Promise<Job<R>> {
  let current = job;
  while (current.status === "queued" || current.status === "running") {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    current = await api<Job<R>>(`/api/datasource-jobs/${current.id}/`);
  }
  return current;
}

export default function Datasources() {
  const t = useT();
  const { workspace } = useSession();
  const role = useRole();
  const { message } = App.useApp();
  const { data, error, loading, reload } = useLoad(() => list<Datasource>(`/api/datasources/${query({ workspace: workspace!.id })}`), [workspace!.id]);
  const [editing, setEditing] = useState<Datasource | "new" | null>(null);
  const [checking, setChecking] = useState<{ ds: Datasource; report?: CheckReport; error?: string } | null>(null);
  const [catalogOf, setCatalogOf] = useState<Datasource | null>(null);

  const check = async (ds: Datasource) => {
    setChecking({ ds });
    try {
      const job = await finishedJob(await api<Job<CheckReport>>(`/api/datasources/${ds.id}/check/?wait=20`, { method: "POST" }));
      setChecking({ ds, report: job.result ?? undefined, error: job.error || undefined });
      await reload();
    } catch (e) {
      setChecking({ ds, error: String(e) });
    }
  };

  if (error) return <PageError error={error} />;
  return (
    <Space orientation="vertical" style={{ width: "100%" }}>
      <Space style={{ justifyContent: "space-between", width: "100%" }}>
        <Typography.Title level={3}>{t("Datasources")}</Typography.Title>
        {can(role, "operate") && <Button type="primary" onClick={() => setEditing("new")}>{t("New datasource")}</Button>}
      </Space>
      <Table
        loading={loading}
        rowKey="id"
        dataSource={data ?? []}
        locale={{ emptyText: <Empty description={t(can(role, "operate") ? "No datasources yet: add the database to copy from, then the one to copy to." : "No datasources yet: an operator of this workspace adds them.")} /> }}
        columns={[
          { title: t("Name"), dataIndex: "name" },
          { title: t("Engine"), dataIndex: "engine" },
          { title: t("Host"), render: (_, d: Datasource) => `${d.host}:${d.port}` },
          { title: t("Database"), dataIndex: "database" },
          { title: t("Last check"), render: (_, d: Datasource) => <span data-testid={`last-check-${d.name}`}><StatusTag status={d.last_check_status} /></span> },
          {
            title: t("Actions"),
            render: (_, d: Datasource) => (
              <Space>
                {can(role, "operate") && <Button size="small" onClick={() => void check(d)}>{t("Check")}</Button>}
                <Button size="small" onClick={() => setCatalogOf(d)}>{t("Catalog")}</Button>
                {can(role, "operate") && <Button size="small" onClick={() => setEditing(d)}>{t("Edit")}</Button>}
                {can(role, "operate") && (
                  <Popconfirm title={t("Are you sure?")} onConfirm={async () => {
                    try {
                      await api(`/api/datasources/${d.id}/`, { method: "DELETE" });
                      await reload();
                    } catch (e) {
                      message.error(String(e));
                    }
                  }}>
                    <Button size="small" danger>{t("Delete")}</Button>
                  </Popconfirm>
                )}
              </Space>
            ),
          },
        ]}
      />
      {editing && (
        <DatasourceModal
          initial={editing === "new" ? null : editing}
          workspace={workspace!.id}
          onClose={async (saved) => {
            setEditing(null);
            if (saved) await reload();
          }}
        />
      )}
      <Modal open={!!checking} width={900} title={checking ? `${t("Check")}: ${checking.ds.name}` : ""} footer={null} onCancel={() => setChecking(null)}>
        {checking && !checking.report && !checking.error && <Spin tip={t("Running every pre-flight check on a worker…")}><div style={{ height: 80 }} /></Spin>}
        {checking?.error && <Alert type="error" showIcon message={checking.error} />}
        {checking?.report && (
          <Space orientation="vertical" style={{ width: "100%" }}>
            <Typography.Text data-testid="check-overall">Overall: <StatusTag status={checking.report.status} /> {checking.report.server_version}</Typography.Text>
            <CheckResult items={checking.report.items} />
          </Space>
        )}
      </Modal>
      <Drawer open={!!catalogOf} size={720} title={catalogOf ? `${t("Catalog")}: ${catalogOf.name}` : ""} onClose={() => setCatalogOf(null)}>
        {catalogOf && <CatalogBrowser datasource={catalogOf} />}
      </Drawer>
    </Space>
  );
}

function DatasourceModal({ initial, workspace, onClose }: { initial: Datasource | null; workspace: number; onClose: (saved: boolean) => void }) {
  const t = useT();
  const [form] = Form.useForm();
  const [engine, setEngine] = useState(initial?.engine ?? "mysql");
  const [other, setOther] = useState<string[]>([]);
  const editing = initial !== null;
  const fields = datasourceFields(engine, editing);
  const save = async (values: DatasourceForm) => {
    setOther([]);
    let body: Record<string, unknown>;
    try {
      body = datasourceBody({ ...values, workspace, engine }, editing);
    } catch (problem) {
      form.setFields(Object.entries(problem as Record<string, string>).map(([name, msg]) => ({ name, errors: [msg] })));
      return;
    }
    try {
      await api(editing ? `/api/datasources/${initial!.id}/` : "/api/datasources/", { method: editing ? "PATCH" : "POST", body });
      onClose(true);
    } catch (error) {
      const mapped = formErrors(error, ["engine", ...fields.map((f) => f.name), "description"]);
      form.setFields(mapped.fields);
      setOther(mapped.other);
    }
  };
  const initialValues = initial
    ? { ...initial, password: "", options: JSON.stringify(initial.options ?? {}) }
    : { engine, ...Object.fromEntries(fields.filter((f) => f.initial !== undefined).map((f) => [f.name, f.initial])) };
  return (
    <Modal open title={editing ? `${t("Edit")} ${initial!.name}` : t("New datasource")} onCancel={() => onClose(false)} onOk={() => form.submit()} okText={t("Save")} destroyOnHidden>
      <Form form={form} layout="vertical" initialValues={initialValues} onFinish={save} data-testid="datasource-form">
        <Form.Item label={t("Engine")} name="engine">
          <Select disabled={editing} onChange={(value: string) => {
            setEngine(value);
            form.setFieldValue("port", ENGINES.find((e) => e.engine === value)?.defaultPort);
          }} options={ENGINES.map((e) => ({ value: e.engine, label: e.label }))} />
        </Form.Item>
        {fields.map((f) => (
          <Form.Item key={f.name} name={f.name} label={t(f.label)} extra={f.help} rules={f.required ? [{ required: true }] : []}>
            {f.kind === "number" ? <InputNumber min={1} max={65535} style={{ width: "100%" }} />
              : f.kind === "password" ? <Input.Password autoComplete="new-password" />
              : f.kind === "json" ? <Input.TextArea rows={2} />
              : <Input />}
          </Form.Item>
        ))}
        {other.map((m) => <Alert key={m} type="error" showIcon message={m} />)}
      </Form>
    </Modal>
  );
}

export function CatalogBrowser({ datasource }: { datasource: Datasource }) {
  const t = useT();
  const [refresh, setRefresh] = useState(0);
  const { data, error, loading } = useLoad(async () => {
    const job = await finishedJob(await api<Job<Catalog>>(`/api/datasources/${datasource.id}/catalog/?wait=20${refresh ? "&refresh=1" : ""}`));
    if (job.status === "failed") throw new Error(job.error || "Discovery failed");
    return job.result as Catalog;
  }, [datasource.id, refresh]);
  if (error) return <PageError error={error} />;
  if (loading || !data) return <Spin tip={t("Discovering databases and tables…")}><div style={{ height: 80 }} /></Spin>;
  const treeData = data.databases.map((db) => ({
    key: db.name,
    title: `${db.name} (${db.tables.length})`,
    children: db.tables.map((table) => ({
      key: `${db.name}.${table.name}`,
      title: `${table.name} — ${t("Estimated rows")}: ${table.estimated_rows ?? "?"}; ${t("Primary key")}: ${table.primary_key.join(", ") || "none"}`,
      children: table.columns.map((c) => ({
        key: `${db.name}.${table.name}.${c.name}`,
        isLeaf: true,
        title: `${c.name} ${c.type}${c.nullable ? "" : " NOT NULL"}${table.primary_key.includes(c.name) ? " 🔑" : ""}`,
      })),
    })),
  }));
  return (
    <Space orientation="vertical" style={{ width: "100%" }}>
      <Button size="small" onClick={() => setRefresh((n) => n + 1)}>{t("Refresh")}</Button>
      {treeData.length ? <Tree data-testid="catalog-tree" treeData={treeData} defaultExpandAll={treeData.length === 1} /> : <Empty description={t("No databases visible to this user.")} />}
    </Space>
  );
}
