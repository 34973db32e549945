// Alerts: rules, channels (with "send test message") and the event history (firing / resolved).
import { Alert, App, Button, Form, Input, InputNumber, Modal, Select, Space, Switch, Table, Tabs, Tag, Typography } from "antd";
import { useState } from "react";
import { api, ApiError, formErrors, list, query } from "../api";
import { StatusTag } from "../components/CheckResult";
import { useLoad } from "../hooks";
import { useT } from "../i18n";
import { can } from "../roles";
import { useRole, useSession } from "../session";
import type { Task } from "../types";
import { PageError } from "../App";

interface Channel { id: number; name: string; kind: string; url: string; secret: string; options: Record<string, unknown>; enabled: boolean }
interface Rule { id: number; name: string; kind: string; severity: string; threshold: number | null; for_seconds: number; task: number | null; channels: number[]; enabled: boolean }
interface Event { id: number; rule_name: string; rule_kind: string; severity: string; task: number | null; task_name: string | null; compare_task?: number | null; compare_task_name?: string | null; state: string; value: number | null; message: string; fired_at: string; resolved_at: string | null; times_sent: number }

const CHANNEL_KINDS = ["webhook", "feishu", "dingtalk", "wecom", "slack", "email"];
const RULE_KINDS: Record<string, string> = {
  lag: "Lag above X seconds for Y seconds", task_failed: "Task failed", stalled: "Position frozen while the source moves (X s)",
  retention: "Binlog time left below X seconds", compare_diff: "Compare found differences", quarantine: "Quarantined rows above N",
};

export default function Alerts() {
  const t = useT();
  return (
    <Space orientation="vertical" style={{ width: "100%" }}>
      <Typography.Title level={3}>{t("Alerts")}</Typography.Title>
      <Tabs items={[
        { key: "events", label: t("Events"), children: <Events /> },
        { key: "rules", label: t("Rules"), children: <Rules /> },
        { key: "channels", label: t("Channels"), children: <Channels /> },
      ]} />
    </Space>
  );
}

function Events() {
  const t = useT();
  const [state, setState] = useState<string | undefined>();
  const { workspace } = useSession();
  // The server filters by the rule's workspace: no other workspace's events reach the browser.
  const events = useLoad(() => list<Event>(`/api/alert-events/${query({ rule__workspace: workspace!.id, state })}`), [workspace!.id, state], 5000);
  if (events.error) return <PageError error={events.error} />;
  return (
    <Space orientation="vertical" style={{ width: "100%" }}>
      <Select allowClear placeholder={t("firing / resolved")} style={{ width: 200 }} value={state} onChange={setState} options={["firing", "resolved"].map((s) => ({ value: s, label: s }))} />
      <Table data-testid="alert-events" size="small" rowKey="id" loading={events.loading} dataSource={events.data ?? []}
        locale={{ emptyText: t("No alert events: rules fire here when their condition holds.") }} columns={[
          { title: t("State"), render: (_, e) => <StatusTag status={e.state} /> },
          { title: t("Severity"), render: (_, e) => <Tag>{e.severity}</Tag> },
          { title: t("Rule"), dataIndex: "rule_name" },
          { title: t("Task"), render: (_, e) => <span data-testid="event-subject">{eventSubject(e, t)}</span> },
          { title: t("Message"), dataIndex: "message" },
          { title: t("Fired"), dataIndex: "fired_at" },
          { title: t("Resolved"), dataIndex: "resolved_at" },
        ]} />
    </Space>
  );
}

/** What an event is about: its sync task, else the standalone compare that raised it. */
export function eventSubject(e: Pick<Event, "task_name" | "compare_task_name">, t: (key: string) => string = (k) => k): string {
  if (e.task_name) return e.task_name;
  if (e.compare_task_name) return `${t("Compare")}: ${e.compare_task_name}`;
  return "–";
}

function Channels() {
  const t = useT();
  const role = useRole();
  const { workspace } = useSession();
  const { message } = App.useApp();
  const channels = useLoad(() => list<Channel>(`/api/alert-channels/${query({ workspace: workspace!.id })}`), [workspace!.id]);
  const [editing, setEditing] = useState<Channel | "new" | null>(null);
  const [tested, setTested] = useState<Record<number, string>>({});
  if (channels.error) return <PageError error={channels.error} />;
  return (
    <Space orientation="vertical" style={{ width: "100%" }}>
      {can(role, "operate") && <Button type="primary" data-testid="channel-new" onClick={() => setEditing("new")}>{t("Add")}</Button>}
      <Table size="small" rowKey="id" dataSource={channels.data ?? []} loading={channels.loading}
        locale={{ emptyText: t("No channels: add a webhook, Feishu, DingTalk, WeCom, Slack or email channel so alerts reach someone.") }} columns={[
          { title: t("Name"), dataIndex: "name" },
          { title: t("Kind"), dataIndex: "kind" },
          { title: "URL", dataIndex: "url" },
          { title: t("Enabled"), render: (_, c) => (c.enabled ? "yes" : "no") },
          { title: "", render: (_, c) => can(role, "operate") && (
            <Space>
              <Button size="small" data-testid={`channel-test-${c.name}`} onClick={async () => {
                try {
                  const outcome = await api<{ status: string; http_status: number | null; error: string }>(`/api/alert-channels/${c.id}/test/`, { method: "POST" });
                  setTested({ ...tested, [c.id]: `${outcome.status}${outcome.http_status ? ` (HTTP ${outcome.http_status})` : ""}${outcome.error ? `: ${outcome.error}` : ""}` });
                } catch (error) {
                  message.error(error instanceof ApiError ? error.message : String(error));
                }
              }}>{t("Send test message")}</Button>
              {tested[c.id] && <span data-testid={`channel-tested-${c.name}`}>{tested[c.id]}</span>}
              <Button size="small" onClick={() => setEditing(c)}>{t("Edit")}</Button>
            </Space>
          ) },
        ]} />
      {editing && <ChannelForm initial={editing === "new" ? null : editing} workspace={workspace!.id} onClose={async (saved) => { setEditing(null); if (saved) await channels.reload(); }} />}
    </Space>
  );
}

function ChannelForm({ initial, workspace, onClose }: { initial: Channel | null; workspace: number; onClose: (saved: boolean) => void }) {
  const t = useT();
  const [form] = Form.useForm();
  const [other, setOther] = useState<string[]>([]);
  return (
    <Modal open title={initial ? `${t("Edit")} ${initial.name}` : t("Add")} onCancel={() => onClose(false)} onOk={() => form.submit()}>
      <Form form={form} layout="vertical" data-testid="channel-form" initialValues={initial ? { ...initial, secret: "", options: JSON.stringify(initial.options) } : { kind: "webhook", enabled: true, options: "{}" }}
        onFinish={async (values) => {
          let options: unknown;
          try {
            options = JSON.parse(values.options || "{}");
          } catch {
            form.setFields([{ name: "options", errors: ["Options must be valid JSON."] }]);
            return;
          }
          const body: Record<string, unknown> = { ...values, options, workspace };
          if (initial && !values.secret) delete body.secret; // write-only: empty keeps the stored secret
          try {
            await api(initial ? `/api/alert-channels/${initial.id}/` : "/api/alert-channels/", { method: initial ? "PATCH" : "POST", body });
            onClose(true);
          } catch (error) {
            const mapped = formErrors(error, ["name", "kind", "url", "secret", "options", "enabled"]);
            form.setFields(mapped.fields);
            setOther(mapped.other);
          }
        }}>
        <Form.Item name="name" label={t("Name")} rules={[{ required: true }]}><Input /></Form.Item>
        <Form.Item name="kind" label={t("Kind")}><Select options={CHANNEL_KINDS.map((k) => ({ value: k, label: k }))} /></Form.Item>
        <Form.Item name="url" label="URL" extra={t("The webhook or bot URL (email: leave empty and set options).")}><Input /></Form.Item>
        <Form.Item name="secret" label={t("Secret")} extra={t("Signing secret; write-only.")}><Input.Password autoComplete="new-password" /></Form.Item>
        <Form.Item name="options" label={t("Options")}><Input.TextArea rows={2} /></Form.Item>
        <Form.Item name="enabled" label={t("Enabled")} valuePropName="checked"><Switch /></Form.Item>
        {other.map((m) => <Alert key={m} type="error" message={m} />)}
      </Form>
    </Modal>
  );
}

function Rules() {
  const t = useT();
  const role = useRole();
  const { workspace } = useSession();
  const ws = workspace!.id;
  const rules = useLoad(() => list<Rule>(`/api/alert-rules/${query({ workspace: ws })}`), [ws]);
  const channels = useLoad(() => list<Channel>(`/api/alert-channels/${query({ workspace: ws })}`), [ws]);
  const tasks = useLoad(() => list<Task>(`/api/tasks/${query({ workspace: ws })}`), [ws]);
  const [editing, setEditing] = useState<Rule | "new" | null>(null);
  const [form] = Form.useForm();
  const [other, setOther] = useState<string[]>([]);
  if (rules.error) return <PageError error={rules.error} />;
  const taskName = (id: number | null) => (id === null ? "every task" : (tasks.data ?? []).find((x) => x.id === id)?.name ?? id);
  return (
    <Space orientation="vertical" style={{ width: "100%" }}>
      {can(role, "operate") && <Button type="primary" data-testid="rule-new" onClick={() => { form.resetFields(); setEditing("new"); }}>{t("Add")}</Button>}
      <Table size="small" rowKey="id" dataSource={rules.data ?? []} loading={rules.loading}
        locale={{ emptyText: t("No rules: add one, e.g. lag above 60 s for 120 s, sent to a channel.") }} columns={[
          { title: t("Name"), dataIndex: "name" },
          { title: t("Kind"), render: (_, r) => RULE_KINDS[r.kind] ?? r.kind },
          { title: t("Threshold"), dataIndex: "threshold" },
          { title: t("For (s)"), dataIndex: "for_seconds" },
          { title: t("Task"), render: (_, r) => taskName(r.task) },
          { title: t("Channels"), render: (_, r) => r.channels.map((id) => (channels.data ?? []).find((c) => c.id === id)?.name ?? id).join(", ") },
          { title: "", render: (_, r) => can(role, "operate") && <Button size="small" onClick={() => { form.setFieldsValue(r); setEditing(r); }}>{t("Edit")}</Button> },
        ]} />
      <Modal open={!!editing} title={t("Rules")} onCancel={() => setEditing(null)} onOk={() => form.submit()}>
        <Form form={form} layout="vertical" data-testid="rule-form" initialValues={{ kind: "lag", severity: "warning", for_seconds: 0, enabled: true, channels: [] }}
          onFinish={async (values) => {
            setOther([]);
            const current = editing === "new" ? null : editing;
            try {
              await api(current ? `/api/alert-rules/${current.id}/` : "/api/alert-rules/", { method: current ? "PATCH" : "POST", body: { ...values, workspace: ws, task: values.task ?? null } });
              setEditing(null);
              await rules.reload();
            } catch (error) {
              const mapped = formErrors(error, ["name", "kind", "severity", "threshold", "for_seconds", "task", "channels", "enabled"]);
              form.setFields(mapped.fields);
              setOther(mapped.other);
            }
          }}>
          <Form.Item name="name" label={t("Name")} rules={[{ required: true }]}><Input /></Form.Item>
          <Form.Item name="kind" label={t("Kind")}><Select options={Object.entries(RULE_KINDS).map(([value, label]) => ({ value, label }))} /></Form.Item>
          <Form.Item name="severity" label={t("Severity")}><Select options={["info", "warning", "critical"].map((s) => ({ value: s, label: s }))} /></Form.Item>
          <Form.Item name="threshold" label={t("Threshold (X)")}><InputNumber min={0} /></Form.Item>
          <Form.Item name="for_seconds" label={t("For (Y seconds)")}><InputNumber min={0} /></Form.Item>
          <Form.Item name="task" label={t("Task (empty: every task)")}><Select allowClear options={(tasks.data ?? []).map((x) => ({ value: x.id, label: x.name }))} /></Form.Item>
          <Form.Item name="channels" label={t("Channels")}><Select mode="multiple" options={(channels.data ?? []).map((c) => ({ value: c.id, label: c.name }))} /></Form.Item>
          <Form.Item name="enabled" label={t("Enabled")} valuePropName="checked"><Switch /></Form.Item>
          {other.map((m) => <Alert key={m} type="error" message={m} />)}
        </Form>
      </Modal>
    </Space>
  );
}
