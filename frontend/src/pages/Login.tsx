import { Alert, Button, Card, Form, Input, Select, Space } from "antd";
import { useContext, useState } from "react";
import { api, formErrors } from "../api";
import { LangContext, type Lang, useT } from "../i18n";

export function LoginPage({ onSignedIn }: { onSignedIn: () => Promise<void> }) {
  const t = useT();
  const { lang, setLang } = useContext(LangContext);
  const [form] = Form.useForm();
  const [other, setOther] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const submit = async (values: { username: string; password: string }) => {
    setBusy(true);
    setOther([]);
    try {
      await api("/api/session/", { method: "POST", body: values });
      window.history.replaceState(null, "", window.location.pathname === "/login" ? "/dashboard" : window.location.pathname);
      await onSignedIn();
    } catch (error) {
      const mapped = formErrors(error, ["username", "password"]);
      form.setFields(mapped.fields);
      setOther(mapped.other);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div style={{ display: "flex", justifyContent: "center", paddingTop: 120, background: "#f5f7fa", minHeight: "100vh" }}>
      <Card title={`DTS — ${t("Sign in")}`} style={{ width: 380, height: "fit-content" }}
        extra={<Select size="small" value={lang} onChange={(v: Lang) => setLang(v)}
          options={[{ value: "en", label: "English" }, { value: "zh", label: "简体中文" }]} />}>
        <Form form={form} layout="vertical" onFinish={submit}>
          <Form.Item name="username" label={t("Username")} rules={[{ required: true }]}>
            <Input autoFocus autoComplete="username" />
          </Form.Item>
          <Form.Item name="password" label={t("Password")} rules={[{ required: true }]}>
            <Input.Password autoComplete="current-password" />
          </Form.Item>
          <Space orientation="vertical" style={{ width: "100%" }}>
            {other.map((message) => <Alert key={message} type="error" showIcon message={message} />)}
            <Button type="primary" htmlType="submit" loading={busy} block>{t("Sign in")}</Button>
          </Space>
        </Form>
      </Card>
    </div>
  );
}
