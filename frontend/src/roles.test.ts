import { describe, expect, it } from "vitest";
import { can } from "./roles";

describe("role gating", () => {
  it("orders the roles: viewer reads, operator operates, owner manages", () => {
    expect([can("viewer", "read"), can("viewer", "operate"), can("viewer", "manage")]).toEqual([true, false, false]);
    expect([can("operator", "read"), can("operator", "operate"), can("operator", "manage")]).toEqual([true, true, false]);
    expect([can("owner", "read"), can("owner", "operate"), can("owner", "manage")]).toEqual([true, true, true]);
  });
  it("gives an outsider nothing", () => {
    expect(can(null, "read")).toBe(false);
    expect(can(undefined, "operate")).toBe(false);
  });
});
