import { describe, expect, it } from "vitest";
import { datasourceBody, datasourceFields } from "./engines";

describe("datasource form generation", () => {
  it("gives each engine its fields and default port", () => {
    const mysql = datasourceFields("mysql", false);
    expect(mysql.map((f) => f.name)).toEqual(["name", "host", "port", "user", "password", "database", "options"]);
    expect(mysql.find((f) => f.name === "port")?.initial).toBe(3306);
    expect(datasourceFields("postgresql", false).find((f) => f.name === "port")?.initial).toBe(5432);
    expect(datasourceFields("redis", false).find((f) => f.name === "user")?.required).toBe(false);
    expect(datasourceFields("oracle", false)).toEqual([]);
  });
  it("makes the password write-only: never required, and on edit empty means keep", () => {
    expect(datasourceFields("mysql", true).find((f) => f.name === "password")).toMatchObject({ kind: "password", required: false, help: expect.stringContaining("keep") });
    const values = { workspace: 1, engine: "mysql", name: "a", host: "h", port: 3306, password: "", options: "" };
    expect(datasourceBody(values, true)).not.toHaveProperty("password");
    expect(datasourceBody({ ...values, password: "s3cret" }, true).password).toBe("s3cret");
    expect(datasourceBody(values, false).password).toBe("");
  });
  it("parses options and names the field when they are not a JSON object", () => {
    const values = { workspace: 1, engine: "postgresql", name: "a", host: "h", port: 5432 };
    expect(datasourceBody({ ...values, options: '{"sslmode": "require"}' }, false).options).toEqual({ sslmode: "require" });
    expect(() => datasourceBody({ ...values, options: "{bad" }, false)).toThrow();
    try {
      datasourceBody({ ...values, options: "[1, 2]" }, false);
    } catch (problem) {
      expect(problem).toEqual({ options: expect.stringContaining("JSON object") });
      return;
    }
    throw new Error("a list was accepted as options");
  });
});
