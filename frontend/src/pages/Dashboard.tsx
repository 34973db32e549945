import { Alert, Card, Col, Empty, List, Row, Space, Statistic, Table, Tag, Typography } from "antd";
import { Link } from "react-router-dom";
import { api, ApiError, list, query } from "../api";
import { countBy, type HistoryPoint, mostLagged, seriesFrom, type TaskMetric, totalThroughput } from "../charts";
import { StatusTag } from "../components/CheckResult";
import { EChart, Sparkline } from "../components/Chart";
import { useLoad } from "../hooks";
import { useT } from "../i18n";
import { useSession } from "../session";
import type { Task } from "../types";

interface AlertEvent { id: number; rule_name: string; severity: string; task: number | null; task_name: string | null; state: string; message: string; fired_at: string; resolved_at: string | null }
interface CompareRun { id: number; compare_task: number; status: string; counts: { missing: number; extra: number; different: number } | null; finished_at: string | null }

export default function Dashboard() {
  const t = useT();
  const { workspace } = useSession();
  const ws = workspace!.id;
  const tasks = useLoad(() => list<Task>(`/api/tasks/${query({ workspace: ws })}`), [ws], 10000);
  const metrics = useLoad(() => list<TaskMetric>(`/api/task-metrics/${query({ workspace: ws })}`), [ws], 10000);
  const alerts = useLoad(() => list<AlertEvent>("/api/alert-events/?state=firing"), [ws], 10000);
  const compares = useLoad(() => list<CompareRun>("/api/compare-runs/"), [ws], 30000);
  const taskIds = new Set((tasks.data ?? []).map((task) => task.id));
  const lagged = mostLagged(metrics.data ?? []);
  const histories = useLoad(() => Promise.all(lagged.map((m) => api<{ history: HistoryPoint[] }>(`/api/tasks/${m.task}/metrics/`))),
    [lagged.map((m) => m.task).join(",")]);
  const byStatus = countBy(tasks.data ?? [], (task) => task.status);
  if (tasks.data && !tasks.data.length) {
    return <Empty description={<span>{t("No tasks in this workspace yet.")} <Link to="/datasources">{t("Datasources")}</Link> → <Link to="/tasks/new">{t("New task")}</Link></span>} />;
  }
  return (
    <Space orientation="vertical" style={{ width: "100%" }} size="middle">
      <Typography.Title level={3}>{t("Dashboard")}</Typography.Title>
      <Row gutter={16}>
        <Col span={8}>
          <Card title={t("Tasks by status")} size="small" data-testid="tasks-by-status">
            <EChart height={160} option={{ tooltip: {}, series: [{ type: "pie", radius: ["40%", "70%"], data: Object.entries(byStatus).map(([name, value]) => ({ name, value })) }] }} />
            <Space wrap>{Object.entries(byStatus).map(([s, n]) => <span key={s}><StatusTag status={s} />{n}</span>)}</Space>
          </Card>
        </Col>
        <Col span={8}><Card size="small"><Statistic title={`${t("Total throughput")} (${t("rows/s")})`} value={Math.round(totalThroughput(metrics.data ?? []))} /></Card></Col>
        <Col span={8}><Card size="small"><Statistic title={t("Firing alerts")} value={(alerts.data ?? []).length} valueStyle={{ color: alerts.data?.length ? "#cf1322" : undefined }} /></Card></Col>
      </Row>
      <Row gutter={16}>
        <Col span={12}>
          <Card title={t("Most lagged tasks")} size="small">
            <Table size="small" pagination={false} rowKey="task" dataSource={lagged} locale={{ emptyText: t("No lag measured yet: the monitor measures running tasks every few seconds.") }} columns={[
              { title: t("Name"), render: (_, m) => <Link to={`/tasks/${m.task}`}>{m.name}</Link> },
              { title: `${t("Lag")} (s)`, render: (_, m) => m.current?.lag_seconds },
              { title: "24h", width: 160, render: (_, _m, index) => <Sparkline series={histories.data?.[index] ? seriesFrom(histories.data[index].history, "lag") : []} /> },
            ]} />
          </Card>
        </Col>
        <Col span={12}>
          <Card title={t("Firing alerts")} size="small">
            <List size="small" dataSource={(alerts.data ?? []).filter((a) => a.task === null || taskIds.has(a.task))} locale={{ emptyText: t("Nothing firing.") }}
              renderItem={(a) => <List.Item><Tag color="red">{a.severity}</Tag>{a.rule_name}: {a.message}</List.Item>} />
          </Card>
        </Col>
      </Row>
      <Card title={t("Recent compare results")} size="small">
        {compares.error instanceof ApiError && compares.error.status === 404
          ? <Alert type="info" message={t("Data compare is not available on this platform version yet.")} />
          : <Table size="small" rowKey="id" pagination={false} dataSource={[...(compares.data ?? [])].sort((a, b) => b.id - a.id).slice(0, 5)} locale={{ emptyText: t("No compare has run yet.") }} columns={[
              { title: t("Run"), render: (_, r) => <Link to={`/compare/runs/${r.id}`}>#{r.id}</Link> },
              { title: t("Status"), render: (_, r) => <StatusTag status={r.status} /> },
              { title: t("Differences"), render: (_, r) => r.counts ? r.counts.missing + r.counts.extra + r.counts.different : "–" },
              { title: t("Finished"), dataIndex: "finished_at" },
            ]} />}
      </Card>
    </Space>
  );
}
