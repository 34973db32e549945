import { Table, Tag } from "antd";
import { useT } from "../i18n";
import type { CheckItem } from "../types";

const COLOR: Record<string, string> = { passed: "green", warning: "orange", failed: "red", skipped: "default" };

export function StatusTag({ status }: { status: string }) {
  const colors: Record<string, string> = {
    ...COLOR, running: "blue", queued: "cyan", new: "default", stopped: "default", completed: "green",
    succeeded: "green", firing: "red", resolved: "green", pending: "gold", applied: "green", ignored: "default",
    caught_up: "green", behind: "orange", stalled: "red",
  };
  return status ? <Tag color={colors[status] ?? "default"}>{status}</Tag> : <Tag>never</Tag>;
}

/** Every pre-flight item with pass/fail and, when not passed, how to fix it. */
export function CheckResult({ items }: { items: CheckItem[] }) {
  const t = useT();
  return (
    <Table
      data-testid="check-result"
      size="small"
      rowKey="name"
      pagination={false}
      dataSource={items}
      columns={[
        { title: t("Item"), dataIndex: "title" },
        { title: t("Status"), dataIndex: "status", render: (s: string) => <StatusTag status={s} /> },
        { title: t("Detail"), dataIndex: "detail" },
        { title: t("Hint"), dataIndex: "hint" },
      ]}
    />
  );
}
