// The shell: language and antd locale, sign-in, the workspace switcher, the menu and the routed pages
// (each page is its own chunk, loaded when first opened).
import { Alert, App as AntApp, Button, ConfigProvider, Layout, Menu, Result, Select, Space, Spin, Typography } from "antd";
import enUS from "antd/locale/en_US";
import zhCN from "antd/locale/zh_CN";
import { lazy, Suspense, useCallback, useContext, useEffect, useMemo, useState } from "react";
import { Link, Navigate, Route, Routes, useLocation, useNavigate } from "react-router-dom";
import { api, ApiError } from "./api";
import { initialLang, LangContext, type Lang, useT } from "./i18n";
import { type Me, pickWorkspace, SessionContext, useSession } from "./session";
import { LoginPage } from "./pages/Login";
import { CreateWorkspace } from "./pages/CreateWorkspace";

const Dashboard = lazy(() => import("./pages/Dashboard"));
const Datasources = lazy(() => import("./pages/Datasources"));
const Tasks = lazy(() => import("./pages/Tasks"));
const TaskWizard = lazy(() => import("./pages/TaskWizard"));
const TaskDetail = lazy(() => import("./pages/TaskDetail"));
const Compare = lazy(() => import("./pages/Compare"));
const CompareRun = lazy(() => import("./pages/CompareRun"));
const Alerts = lazy(() => import("./pages/Alerts"));
const WorkspacePage = lazy(() => import("./pages/Workspace"));

export function Root() {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const setLang = useCallback((next: Lang) => {
    localStorage.setItem("dts.lang", next);
    setLangState(next);
  }, []);
  return (
    <LangContext.Provider value={{ lang, setLang }}>
      <ConfigProvider locale={lang === "zh" ? zhCN : enUS}>
        <AntApp>
          <Shell />
        </AntApp>
      </ConfigProvider>
    </LangContext.Provider>
  );
}

function Shell() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [workspaceId, setWorkspaceId] = useState<string | null>(localStorage.getItem("dts.workspace"));
  const [loadError, setLoadError] = useState<string | null>(null);
  const reload = useCallback(async () => {
    try {
      setMe(await api<Me>("/api/me/"));
    } catch (error) {
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) setMe(null);
      else setLoadError(String(error));
    }
  }, []);
  useEffect(() => {
    void reload();
  }, [reload]);

  const session = useMemo(() => {
    if (!me) return null;
    return {
      me,
      workspace: pickWorkspace(me, workspaceId),
      setWorkspace: (id: number) => {
        localStorage.setItem("dts.workspace", String(id));
        setWorkspaceId(String(id));
      },
      reload,
    };
  }, [me, workspaceId, reload]);

  if (loadError) return <Result status="error" title="The platform did not answer" subTitle={loadError} />;
  if (me === undefined) return <Spin fullscreen />;
  if (me === null) return <LoginPage onSignedIn={reload} />;
  return (
    <SessionContext.Provider value={session}>
      <MainLayout />
    </SessionContext.Provider>
  );
}

const PAGES = [
  { key: "/dashboard", label: "Dashboard" },
  { key: "/datasources", label: "Datasources" },
  { key: "/tasks", label: "Tasks" },
  { key: "/compare", label: "Compare" },
  { key: "/alerts", label: "Alerts" },
  { key: "/workspace", label: "Workspace" },
];

function MainLayout() {
  const t = useT();
  const location = useLocation();
  const navigate = useNavigate();
  const s = useSession();
  return (
        <Layout style={{ minHeight: "100vh" }}>
          <Layout.Sider breakpoint="lg" collapsedWidth={0} theme="dark">
            <div style={{ color: "#fff", padding: 16, fontWeight: 600, fontSize: 16 }}>DTS</div>
            <Menu
              theme="dark"
              mode="inline"
              selectedKeys={[PAGES.find((p) => location.pathname.startsWith(p.key))?.key ?? ""]}
              items={PAGES.map((p) => ({ key: p.key, label: <Link to={p.key}>{t(p.label)}</Link> }))}
            />
          </Layout.Sider>
          <Layout>
            <Layout.Header style={{ background: "#fff", display: "flex", justifyContent: "flex-end", alignItems: "center", gap: 16 }}>
              <TopBar />
            </Layout.Header>
            <Layout.Content style={{ margin: 24 }}>
              {s.workspace ? (
                <Suspense fallback={<Spin />}>
                  <Routes>
                    <Route path="/" element={<Navigate to="/dashboard" replace />} />
                    <Route path="/login" element={<Navigate to="/dashboard" replace />} />
                    <Route path="/dashboard" element={<Dashboard />} />
                    <Route path="/datasources" element={<Datasources />} />
                    <Route path="/tasks" element={<Tasks />} />
                    <Route path="/tasks/new" element={<TaskWizard />} />
                    <Route path="/tasks/:id" element={<TaskDetail />} />
                    <Route path="/compare" element={<Compare />} />
                    <Route path="/compare/runs/:id" element={<CompareRun />} />
                    <Route path="/alerts" element={<Alerts />} />
                    <Route path="/workspace" element={<WorkspacePage />} />
                    <Route path="*" element={<NotFound onHome={() => navigate("/dashboard")} />} />
                  </Routes>
                </Suspense>
              ) : (
                <CreateWorkspace />
              )}
            </Layout.Content>
          </Layout>
        </Layout>
  );
}

function TopBar() {
  const t = useT();
  const { lang, setLang } = useContext(LangContext);
  const s = useSession();
  return (
            <Space>
              {s.me.workspaces.length > 0 && (
                <Select
                  aria-label={t("Workspace switcher")}
                  data-testid="workspace-switcher"
                  style={{ minWidth: 180 }}
                  value={s.workspace?.id}
                  onChange={(id: number) => s.setWorkspace(id)}
                  options={s.me.workspaces.map((w) => ({ value: w.id, label: `${w.name} (${w.role})` }))}
                />
              )}
              <Select
                aria-label={t("Language")}
                data-testid="language"
                style={{ minWidth: 110 }}
                value={lang}
                onChange={(value: Lang) => setLang(value)}
                options={[{ value: "en", label: "English" }, { value: "zh", label: "简体中文" }]}
              />
              <Typography.Text>{s.me.username}</Typography.Text>
              <Button
                onClick={async () => {
                  await api("/api/session/", { method: "DELETE" });
                  window.location.assign("/login");
                }}
              >
                {t("Sign out")}
              </Button>
            </Space>
  );
}

export function NotFound({ onHome }: { onHome?: () => void }) {
  const t = useT();
  return (
    <Result
      status="404"
      title={t("Not found")}
      subTitle={t("This page does not exist, or it belongs to a workspace you are not a member of.")}
      extra={onHome && <Button onClick={onHome}>{t("Dashboard")}</Button>}
    />
  );
}

export function PageError({ error }: { error: unknown }) {
  if (error instanceof ApiError && error.status === 404) return <NotFound />;
  return <Alert type="error" showIcon message={error instanceof Error ? error.message : String(error)} />;
}
