// Workspace: members and roles (owners change them), the caller's API tokens, the audit log with filters.
import { Alert, App, Button, DatePicker, Form, Input, Modal, Popconfirm, Select, Space, Table, Tabs, Typography } from "antd";
import { useState } from "react";
import { api, ApiError, formErrors, list, query } from "../api";
import { useLoad } from "../hooks";
import { useT } from "../i18n";
import { can } from "../roles";
import { useRole, useSession } from "../session";
import { PageError } from "../App";

interface Member { id: number; username: string; email: string; role: string; created_at: string }
interface Token { id: number; name: string; key_prefix: string; created_at: string; last_used_at: string | null; expires_at: string | null; revoked_at: string | null }
interface AuditEntry { id: number; at: string; actor_name: string; action: string; object_type: string; object_id: string; object_repr: string; changes: unknown; remote_addr: string }

const ROLES = ["viewer", "operator", "owner"].map((r) => ({ value: r, label: r }));

export default function WorkspacePage() {
  const t = useT();
  const { workspace } = useSession();
  return (
    <Space orientation="vertical" style={{ width: "100%" }}>
      <Typography.Title level={3}>{t("Workspace")}: {workspace!.name}</Typography.Title>
      <Tabs items={[
        { key: "members", label: t("Members"), children: <Members /> },
        { key: "tokens", label: t("API tokens"), children: <Tokens /> },
        { key: "audit", label: t("Audit log"), children: <Audit /> },
      ]} />
    </Space>
  );
}

function Members() {
  const t = useT();
  const role = useRole();
  const { workspace } = useSession();
  const { message } = App.useApp();
  const base = `/api/workspaces/${workspace!.id}/members/`;
  const members = useLoad(() => list<Member>(base), [base]);
  const [form] = Form.useForm();
  if (members.error) return <PageError error={members.error} />;
  const owner = can(role, "manage");
  const change = async (m: Member, newRole: string) => {
    try {
      await api(`${base}${m.id}/`, { method: "PATCH", body: { role: newRole } });
    } catch (error) {
      message.error(error instanceof ApiError ? error.message : String(error));
    }
    await members.reload();
  };
  return (
    <Space orientation="vertical" style={{ width: "100%" }}>
      {owner && (
        <Form form={form} layout="inline" initialValues={{ role: "viewer" }} onFinish={async (values) => {
          try {
            await api(base, { method: "POST", body: values });
            form.resetFields();
            await members.reload();
          } catch (error) {
            form.setFields(formErrors(error, ["username", "role"]).fields);
          }
        }}>
          <Form.Item name="username" rules={[{ required: true }]}><Input data-testid="member-username" placeholder={t("Username")} /></Form.Item>
          <Form.Item name="role"><Select data-testid="member-role" style={{ width: 120 }} options={ROLES} /></Form.Item>
          <Button htmlType="submit" data-testid="member-add">{t("Add")}</Button>
        </Form>
      )}
      <Table data-testid="members" size="small" rowKey="id" loading={members.loading} dataSource={members.data ?? []} columns={[
        { title: t("Username"), dataIndex: "username" },
        { title: t("Email"), dataIndex: "email" },
        { title: t("Role"), render: (_, m) => owner ? <Select size="small" value={m.role} style={{ width: 120 }} options={ROLES} onChange={(r) => void change(m, r)} /> : m.role },
        { title: "", render: (_, m) => owner && (
          <Popconfirm title={`Remove ${m.username} from the workspace?`} onConfirm={async () => {
            try {
              await api(`${base}${m.id}/`, { method: "DELETE" });
            } catch (error) {
              message.error(error instanceof ApiError ? error.message : String(error));
            }
            await members.reload();
          }}><Button size="small" danger>{t("Remove")}</Button></Popconfirm>
        ) },
      ]} />
    </Space>
  );
}

function Tokens() {
  const t = useT();
  const tokens = useLoad(() => list<Token>("/api/tokens/"), []);
  const [form] = Form.useForm();
  const [key, setKey] = useState<string | null>(null);
  return (
    <Space orientation="vertical" style={{ width: "100%" }}>
      <Typography.Text type="secondary">{t("Tokens act as you, for programs: send \"Authorization: Bearer <key>\".")}</Typography.Text>
      <Form form={form} layout="inline" onFinish={async (values) => {
        try {
          const created = await api<{ key: string }>("/api/tokens/", { method: "POST", body: values });
          setKey(created.key);
          form.resetFields();
          await tokens.reload();
        } catch (error) {
          form.setFields(formErrors(error, ["name", "expires_at"]).fields);
        }
      }}>
        <Form.Item name="name" rules={[{ required: true }]}><Input data-testid="token-name" placeholder={t("Name")} /></Form.Item>
        <Button htmlType="submit" data-testid="token-create">{t("Create")}</Button>
      </Form>
      <Table data-testid="tokens" size="small" rowKey="id" dataSource={tokens.data ?? []} locale={{ emptyText: t("No tokens yet: create one for a program that calls the API.") }} columns={[
        { title: t("Name"), dataIndex: "name" },
        { title: t("Prefix"), dataIndex: "key_prefix" },
        { title: t("Created"), dataIndex: "created_at" },
        { title: t("Last used"), dataIndex: "last_used_at" },
        { title: t("Revoked"), dataIndex: "revoked_at" },
        { title: "", render: (_, tk) => !tk.revoked_at && (
          <Popconfirm title={t("Revoke this token? Programs using it stop working.")} onConfirm={async () => {
            await api(`/api/tokens/${tk.id}/`, { method: "DELETE" });
            await tokens.reload();
          }}><Button size="small" danger>Revoke</Button></Popconfirm>
        ) },
      ]} />
      <Modal open={key !== null} title={t("Your new token")} onCancel={() => setKey(null)} footer={null}>
        <Alert type="warning" message={t("Copy it now: it is shown only once.")} />
        <Input.TextArea data-testid="token-key" readOnly value={key ?? ""} rows={2} />
      </Modal>
    </Space>
  );
}

function Audit() {
  const t = useT();
  const { workspace } = useSession();
  const [filters, setFilters] = useState<{ action?: string; object_type?: string; actor?: string; since?: string; until?: string }>({});
  const entries = useLoad(() => list<AuditEntry>(`/api/audit-log/${query({ workspace: workspace!.id, ...filters })}`), [workspace!.id, JSON.stringify(filters)]);
  return (
    <Space orientation="vertical" style={{ width: "100%" }}>
      <Space wrap>
        <Input allowClear placeholder={t("action (create, start, login…)")} onChange={(e) => setFilters({ ...filters, action: e.target.value || undefined })} />
        <Input allowClear placeholder={t("object type")} onChange={(e) => setFilters({ ...filters, object_type: e.target.value || undefined })} />
        <Input allowClear placeholder={t("actor")} onChange={(e) => setFilters({ ...filters, actor: e.target.value || undefined })} />
        <DatePicker.RangePicker showTime onChange={(range) => setFilters({ ...filters, since: range?.[0]?.toISOString(), until: range?.[1]?.toISOString() })} />
      </Space>
      {entries.error ? <PageError error={entries.error} /> : (
        <Table size="small" rowKey="id" loading={entries.loading} dataSource={entries.data ?? []} columns={[
          { title: t("At"), dataIndex: "at" },
          { title: t("Actor"), dataIndex: "actor_name" },
          { title: t("Action"), dataIndex: "action" },
          { title: t("Object"), render: (_, e) => `${e.object_type} ${e.object_repr}` },
          { title: t("Changes"), render: (_, e) => <code style={{ fontSize: 11 }}>{e.changes ? JSON.stringify(e.changes) : ""}</code> },
          { title: t("From"), dataIndex: "remote_addr" },
        ]} />
      )}
    </Space>
  );
}
