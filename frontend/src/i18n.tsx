// English and Simplified Chinese. Keys are the English text's short names; a missing Chinese entry falls
// back to English so a new string never shows up blank.
import { createContext, useContext } from "react";

export type Lang = "en" | "zh";

const zh: Record<string, string> = {
  Dashboard: "概览", Datasources: "数据源", Tasks: "同步任务", Compare: "数据校验", Alerts: "告警",
  Workspace: "工作空间", "Sign in": "登录", "Sign out": "退出登录", Username: "用户名", Password: "密码",
  "New datasource": "新建数据源", "New task": "新建任务", Check: "检查", Catalog: "目录", Edit: "编辑",
  Delete: "删除", Save: "保存", Cancel: "取消", Create: "创建", Start: "启动", Stop: "停止", Resume: "恢复",
  Restart: "重新开始", "Add tables": "添加表", Name: "名称", Engine: "引擎", Host: "主机", Port: "端口",
  User: "用户", Database: "数据库", Options: "选项", Status: "状态", "Last check": "最近检查",
  "Tasks by status": "任务状态", "Most lagged tasks": "延迟最高的任务", "Total throughput": "总吞吐",
  "Firing alerts": "触发中的告警", "Recent compare results": "最近校验结果", Lag: "延迟",
  Throughput: "吞吐", "Snapshot progress": "全量进度", "Current position": "当前位点", "Recent logs": "最近日志",
  Quarantine: "隔离数据", "DDL inbox": "DDL 待审", "Run history": "运行历史", Source: "源", Target: "目标",
  Tables: "表", Mapping: "映射", "Mode and options": "模式与选项", "Pre-check": "预检查", Next: "下一步",
  Back: "上一步", "Export JSON": "导出 JSON", "Paste JSON": "粘贴 JSON", Preview: "预览", Members: "成员",
  "API tokens": "API 令牌", "Audit log": "审计日志", Rules: "规则", Channels: "通知渠道", Events: "事件",
  "Send test message": "发送测试消息", "Not found": "未找到", Approve: "批准", Ignore: "忽略", Discard: "丢弃",
  Replay: "重放", Differences: "差异", Repair: "修复", "Export SQL": "导出 SQL", Run: "运行",
  Schedule: "调度", Mode: "模式", Kind: "类型", Role: "角色", Remove: "移除", Add: "添加", Refresh: "刷新",
  "Select by regex": "按正则选择", Search: "搜索", "rows/s": "行/秒", "Rate limit (rows/s, 0 = none)": "限速（行/秒，0 为不限）",
  Parallelism: "并行度", "DDL policy": "DDL 策略", "Zero-date policy": "零日期策略", "Dirty-data policy": "脏数据策略",
  "No datasources yet": "还没有数据源", "No tasks yet": "还没有任务", Language: "语言", Actions: "操作",
  "Are you sure?": "确定吗？", "Workspace switcher": "切换工作空间", Rows: "行数", ETA: "预计剩余",
  "Primary key": "主键", "Estimated rows": "估计行数", Columns: "列", Type: "类型", Nullable: "可空",
  Hint: "修复建议", Detail: "详情", Item: "检查项", "Create workspace": "创建工作空间",
  "No tasks in this workspace yet.": "此工作空间还没有任务。先添加源和目标数据源，再用向导创建任务：",
  "No tasks yet: add a source and a target datasource, then create a task with the wizard.": "还没有任务：先添加源和目标数据源，再用向导创建任务。",
  "No datasources yet: add the database to copy from, then the one to copy to.": "还没有数据源：先添加要复制的源库，再添加目标库。",
  "No datasources yet: an operator of this workspace adds them.": "还没有数据源：由此工作空间的操作员添加。",
  "Running every pre-flight check on a worker…": "正在工作节点上运行全部预检查…",
  "No snapshot yet: start the task to copy the existing rows.": "还没有全量数据：启动任务以复制现有数据。",
  "Task created": "任务已创建", "Its pre-check runs on a worker; start it from the task page.": "预检查正在工作节点上运行；请在任务页面启动它。",
  "Open task": "打开任务",
  "This page does not exist, or it belongs to a workspace you are not a member of.": "页面不存在，或属于你不是成员的工作空间。",
};

const dictionaries: Record<Lang, Record<string, string>> = { en: {}, zh };

export function translate(lang: Lang, key: string): string {
  return dictionaries[lang][key] ?? key;
}

export const LangContext = createContext<{ lang: Lang; setLang: (lang: Lang) => void }>({
  lang: "en",
  setLang: () => undefined,
});

export function useT(): (key: string) => string {
  const { lang } = useContext(LangContext);
  return (key: string) => translate(lang, key);
}

export function initialLang(): Lang {
  const saved = localStorage.getItem("dts.lang");
  if (saved === "en" || saved === "zh") return saved;
  return navigator.language.toLowerCase().startsWith("zh") ? "zh" : "en";
}
