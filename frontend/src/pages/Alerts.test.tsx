// The alert events in jsdom against a scripted API: filtered by the server for the workspace, and an event
// of a standalone compare names the compare.
import { render, screen, waitFor } from "@testing-library/react";
import { App as AntApp } from "antd";
import { MemoryRouter } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type Me, SessionContext } from "../session";
import Alerts, { eventSubject } from "./Alerts";

const EVENTS = [
  { id: 1, rule_name: "orders lag", rule_kind: "lag", severity: "warning", task: 3, task_name: "orders-sync", compare_task: null, compare_task_name: null, state: "firing", value: 9, message: "lag 9 s", fired_at: "2026-01-01T00:00:00Z", resolved_at: null, times_sent: 1 },
  { id: 2, rule_name: "diffs", rule_kind: "compare_diff", severity: "critical", task: null, task_name: null, compare_task: 7, compare_task_name: "nightly-check", state: "firing", value: 2, message: "2 differences", fired_at: "2026-01-01T00:00:00Z", resolved_at: null, times_sent: 1 },
];

afterEach(() => vi.unstubAllGlobals());

describe("alert events", () => {
  it("names the sync task, else the standalone compare", () => {
    expect(eventSubject({ task_name: "orders-sync", compare_task_name: null })).toBe("orders-sync");
    expect(eventSubject({ task_name: null, compare_task_name: "nightly-check" })).toBe("Compare: nightly-check");
    expect(eventSubject({ task_name: null, compare_task_name: null })).toBe("–");
  });

  it("asks the server for this workspace's events and shows every one it gets", async () => {
    const urls: string[] = [];
    vi.stubGlobal("fetch", vi.fn((url: string) => {
      urls.push(url);
      const body = url.startsWith("/api/alert-events/") ? EVENTS : [];
      return Promise.resolve(new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } }));
    }));
    const me: Me = { id: 1, username: "u", email: "", is_superuser: false, workspaces: [{ id: 5, name: "acme", role: "viewer" }] };
    render(
      <MemoryRouter><AntApp>
        <SessionContext.Provider value={{ me, workspace: me.workspaces[0], setWorkspace: () => {}, reload: async () => {} }}>
          <Alerts />
        </SessionContext.Provider>
      </AntApp></MemoryRouter>,
    );
    await waitFor(() => expect(screen.getAllByTestId("event-subject").map((e) => e.textContent)).toEqual(["orders-sync", "Compare: nightly-check"]));
    const events = urls.filter((u) => u.startsWith("/api/alert-events/"));
    expect(events[0]).toBe("/api/alert-events/?rule__workspace=5");
    expect(urls.some((u) => u.startsWith("/api/tasks/"))).toBe(false); // no client-side filtering by task list
  });
});
