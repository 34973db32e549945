// The datasources page in jsdom against a scripted API (fetch answers canned JSON): role gating, and API
// errors shown next to the field they concern.
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { App as AntApp } from "antd";
import { MemoryRouter } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type Me, SessionContext } from "../session";
import Datasources from "./Datasources";

const DS = { id: 4, workspace: 1, name: "mysql-src", engine: "mysql", host: "db1", port: 3306, user: "root", password: "********", database: "", options: {}, description: "", last_check_status: "failed", last_checked_at: null };

function renderAs(role: "viewer" | "operator") {
  const me: Me = { id: 1, username: "u", email: "", is_superuser: false, workspaces: [{ id: 1, name: "acme", role }] };
  return render(
    <MemoryRouter>
      <AntApp>
        <SessionContext.Provider value={{ me, workspace: me.workspaces[0], setWorkspace: () => {}, reload: async () => {} }}>
          <Datasources />
        </SessionContext.Provider>
      </AntApp>
    </MemoryRouter>,
  );
}

function answer(status: number, body: unknown) {
  return Promise.resolve(new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } }));
}

afterEach(() => vi.unstubAllGlobals());

describe("datasources page", () => {
  it("shows a viewer the list and its last check, but no button that changes anything", async () => {
    vi.stubGlobal("fetch", vi.fn(() => answer(200, { count: 1, next: null, previous: null, results: [DS] })));
    renderAs("viewer");
    expect(await screen.findByText("mysql-src")).toBeTruthy();
    expect(within(screen.getByTestId("last-check-mysql-src")).getByText("failed")).toBeTruthy();
    expect(screen.queryByText("New datasource")).toBeNull();
    expect(screen.queryByText("Check")).toBeNull();
    expect(screen.queryByText("Edit")).toBeNull();
    expect(screen.queryByText("Delete")).toBeNull();
    expect(screen.getByText("Catalog")).toBeTruthy(); // reading the catalog is allowed
  });

  it("puts the API's error next to the field it concerns and never shows the stored password", async () => {
    const calls: { url: string; init?: RequestInit }[] = [];
    vi.stubGlobal("fetch", vi.fn((url: string, init?: RequestInit) => {
      calls.push({ url, init });
      if (init?.method === "PATCH") return answer(400, { name: ["A datasource with this name already exists in the workspace."] });
      return answer(200, { count: 1, next: null, previous: null, results: [DS] });
    }));
    renderAs("operator");
    fireEvent.click(await screen.findByText("Edit"));
    const form = await screen.findByTestId("datasource-form");
    const password = form.querySelector('input[type="password"]') as HTMLInputElement;
    expect(password.value).toBe(""); // the mask is not put back into the form
    fireEvent.click(screen.getByText("Save"));
    expect(await screen.findByText("A datasource with this name already exists in the workspace.")).toBeTruthy();
    const item = screen.getByText("A datasource with this name already exists in the workspace.").closest(".ant-form-item");
    expect(item?.querySelector("#name, input[id$='name']")).toBeTruthy();
    const patch = calls.find((c) => c.init?.method === "PATCH")!;
    expect(patch.url).toBe("/api/datasources/4/");
    expect(JSON.parse(String(patch.init!.body))).not.toHaveProperty("password"); // empty = keep the stored one
  });

  it("explains what to do when there is nothing yet", async () => {
    vi.stubGlobal("fetch", vi.fn(() => answer(200, { count: 0, next: null, previous: null, results: [] })));
    renderAs("operator");
    await waitFor(() => expect(screen.getByText(/No datasources yet: add the database to copy from/)).toBeTruthy());
  });
});
