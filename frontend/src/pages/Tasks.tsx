import { Button, Empty, Space, Table, Typography } from "antd";
import { Link, useNavigate } from "react-router-dom";
import { list, query } from "../api";
import { StatusTag } from "../components/CheckResult";
import { useLoad } from "../hooks";
import { useT } from "../i18n";
import { can } from "../roles";
import { useRole, useSession } from "../session";
import type { Task } from "../types";
import { PageError } from "../App";

export default function Tasks() {
  const t = useT();
  const { workspace } = useSession();
  const role = useRole();
  const navigate = useNavigate();
  const { data, error, loading } = useLoad(() => list<Task>(`/api/tasks/${query({ workspace: workspace!.id })}`), [workspace!.id], 5000);
  if (error) return <PageError error={error} />;
  return (
    <Space orientation="vertical" style={{ width: "100%" }}>
      <Space style={{ justifyContent: "space-between", width: "100%" }}>
        <Typography.Title level={3}>{t("Tasks")}</Typography.Title>
        {can(role, "operate") && <Button type="primary" onClick={() => navigate("/tasks/new")}>{t("New task")}</Button>}
      </Space>
      <Table
        loading={loading}
        rowKey="id"
        dataSource={data ?? []}
        locale={{ emptyText: <Empty description={t("No tasks yet: add a source and a target datasource, then create a task with the wizard.")} /> }}
        columns={[
          { title: t("Name"), render: (_, task: Task) => <Link to={`/tasks/${task.id}`}>{task.name}</Link> },
          { title: t("Mode"), dataIndex: "mode" },
          { title: t("Tables"), render: (_, task: Task) => task.tables.length },
          { title: t("Status"), render: (_, task: Task) => <StatusTag status={task.status} /> },
          { title: "", dataIndex: "status_message" },
        ]}
      />
    </Space>
  );
}
