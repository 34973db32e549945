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
  // Help texts, empty states, the pre-check step, the slot card, the quarantine and DDL tables, column titles and form labels.
  "Action": "操作类型",
  "Actor": "操作人",
  "At": "时间",
  "Changes": "变更",
  "Chunk size": "分块大小",
  "Created": "创建时间",
  "Duration (s)": "耗时（秒）",
  "Email": "邮箱",
  "Enabled": "启用",
  "Float tolerance": "浮点容差",
  "For (Y seconds)": "持续（Y 秒）",
  "For (s)": "持续（秒）",
  "From": "来源地址",
  "Last run": "最近运行",
  "Last used": "最近使用",
  "Mapping and transforms (JSON): naming, routes, per-table columns, filters, transforms": "映射与转换（JSON）：命名、路由、按表的列、过滤条件、转换",
  "Missing / extra / different": "缺失 / 多余 / 不一致",
  "Object": "对象",
  "Pause above source threads running": "源端运行线程数超过此值时暂停",
  "Prefix": "前缀",
  "Rate limit (rows/s)": "限速（行/秒）",
  "Revoked": "吊销时间",
  "Sample %": "抽样比例 %",
  "Secret": "密钥",
  "Spec loaded: review each step, then create.": "任务定义已载入：请逐步检查后再创建。",
  "Sync task (optional: compares its tables, source and target)": "同步任务（可选：校验其表、源和目标）",
  "Task (empty: every task)": "任务（留空：所有任务）",
  "Threshold": "阈值",
  "Threshold (X)": "阈值（X）",
  "action (create, start, login…)": "操作（create、start、login…）",
  "actor": "操作人",
  "object type": "对象类型",
  "Choose a source first.": "请先选择源。",
  "Column": "列",
  "Copy it now: it is shown only once.": "请立即复制：它只显示这一次。",
  "Create it anyway": "仍然创建",
  "Data compare is not available on this platform version yet.": "此平台版本尚不支持数据校验。",
  "Discard this row? It will not reach the target.": "丢弃这一行？它将不会写入目标。",
  "Discovering databases and tables…": "正在发现数据库和表…",
  "Edit the quarantined row": "编辑隔离的行",
  "Error": "错误",
  "Everything (datasources, tasks, alerts) lives in a workspace. Create one, or ask a workspace owner to add you.": "所有内容（数据源、任务、告警）都属于某个工作空间。请创建一个，或请工作空间所有者把你加入。",
  "Finished": "结束时间",
  "Fired": "触发时间",
  "Forget the position and copy everything again?": "丢弃当前位点并重新复制全部数据？",
  "Key": "主键值",
  "Live updates were refused: sign in again.": "实时更新被拒绝：请重新登录。",
  "Message": "消息",
  "Never run yet.": "尚未运行过。",
  "New compare": "新建校验",
  "No alert events: rules fire here when their condition holds.": "没有告警事件：规则条件满足时会在这里触发。",
  "No channels: add a webhook, Feishu, DingTalk, WeCom, Slack or email channel so alerts reach someone.": "没有通知渠道：添加 Webhook、飞书、钉钉、企业微信、Slack 或邮件渠道，告警才能送达相关人员。",
  "No compare has run yet.": "还没有运行过校验。",
  "No compares yet: create one to check that a target holds exactly the source's rows.": "还没有校验：创建一个，检查目标是否与源的数据完全一致。",
  "No databases visible to this user.": "此用户看不到任何数据库。",
  "No lag measured yet: the monitor measures running tasks every few seconds.": "尚未测得延迟：监控每隔几秒测量一次运行中的任务。",
  "No log lines yet.": "还没有日志。",
  "No rules: add one, e.g. lag above 60 s for 120 s, sent to a channel.": "没有规则：添加一条，例如延迟超过 60 秒持续 120 秒时发送到某个渠道。",
  "No schema changes waiting: with the DDL policy 'review', source DDL waits here for approval.": "没有待审的表结构变更：DDL 策略为 “review” 时，源端 DDL 会在这里等待批准。",
  "No tables found: the source user sees no tables, or the search matches none.": "没有找到表：源用户看不到任何表，或搜索没有匹配项。",
  "No tokens yet: create one for a program that calls the API.": "还没有令牌：为调用 API 的程序创建一个。",
  "Not run yet.": "尚未运行。",
  "Nothing firing.": "没有触发中的告警。",
  "Nothing quarantined: rows the target refuses land here when the dirty-data policy is 'quarantine'.": "没有隔离数据：脏数据策略为 “quarantine” 时，目标拒绝的行会出现在这里。",
  "One \"db.table\" per line; they are copied and streamed from the next start.": "每行一个 “库.表”；下次启动时开始全量复制并增量同步。",
  "Paste a task spec (JSON)": "粘贴任务定义（JSON）",
  "Pick tables in the previous step.": "请在上一步选择表。",
  "Reading the source's catalog…": "正在读取源端目录…",
  "Repair SQL": "修复 SQL",
  "Replay all": "全部重放",
  "Replay shown rows": "重放显示的行",
  "Replayed": "已重放",
  "Replication slot": "复制槽",
  "Resolved": "恢复时间",
  "Retained WAL": "保留的 WAL",
  "Revoke this token? Programs using it stop working.": "吊销此令牌？使用它的程序将无法继续工作。",
  "Rule": "规则",
  "Run the pre-check again": "重新预检查",
  "Severity": "级别",
  "Signing secret; write-only.": "签名密钥；只写。",
  "Slot": "槽名",
  "Some pre-check items failed: the task will probably not run until they are fixed.": "部分预检查项失败：修复之前任务很可能无法运行。",
  "Some pre-check items warn: read their hints before starting the task.": "部分预检查项有警告：启动任务前请阅读修复建议。",
  "Source DDL": "源端 DDL",
  "Started": "开始时间",
  "State": "状态",
  "Table": "表",
  "Target statement": "目标端语句",
  "Task": "任务",
  "The DDL inbox is not available on this platform version yet.": "此平台版本尚不支持 DDL 待审。",
  "The pre-check runs on a worker before anything is created: connections, permissions, binlog/WAL settings and every table's key.": "预检查在创建任何内容之前于工作节点上运行：连接、权限、binlog/WAL 设置以及每张表的主键。",
  "The webhook or bot URL (email: leave empty and set options).": "Webhook 或机器人 URL（邮件：留空并在选项中设置）。",
  "Tokens act as you, for programs: send \"Authorization: Bearer <key>\".": "令牌以你的身份供程序使用：发送 “Authorization: Bearer <key>”。",
  "Worker": "工作节点",
  "You are not a member of any workspace yet": "你还不是任何工作空间的成员",
  "Your new token": "你的新令牌",
  "failed": "失败",
  "firing / resolved": "触发中 / 已恢复",
  "idle": "空闲",
  "in use": "使用中",
  "not measured yet": "尚未测量",
  "same name (default)": "同名（默认）",
};

const dictionaries: Record<Lang, Record<string, string>> = { en: {}, zh };

/** Whether a language has its own text for a key (the translation test checks every key the console uses). */
export function hasTranslation(lang: Lang, key: string): boolean {
  return lang === "en" || Object.prototype.hasOwnProperty.call(dictionaries[lang], key);
}

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
