import { Button, Card, Form, Input, Result } from "antd";
import { api, formErrors } from "../api";
import { useT } from "../i18n";
import { useSession } from "../session";

/** The empty state of a user with no workspace yet: say why nothing is shown and offer to create one. */
export function CreateWorkspace() {
  const t = useT();
  const session = useSession();
  const [form] = Form.useForm();
  return (
    <Result
      status="info"
      title={t("You are not a member of any workspace yet")}
      subTitle={t("Everything (datasources, tasks, alerts) lives in a workspace. Create one, or ask a workspace owner to add you.")}
      extra={
        <Card style={{ maxWidth: 420, margin: "0 auto" }}>
          <Form form={form} layout="inline" onFinish={async (values) => {
            try {
              const created = await api<{ id: number }>("/api/workspaces/", { method: "POST", body: values });
              session.setWorkspace(created.id);
              await session.reload();
            } catch (error) {
              form.setFields(formErrors(error, ["name"]).fields);
            }
          }}>
            <Form.Item name="name" rules={[{ required: true }]}><Input placeholder={t("Name")} /></Form.Item>
            <Button type="primary" htmlType="submit">{t("Create workspace")}</Button>
          </Form>
        </Card>
      }
    />
  );
}
