// What each workspace role may do; the API enforces the same rules, the console only hides what would fail.

export type Role = "viewer" | "operator" | "owner";

const RANK: Record<Role, number> = { viewer: 1, operator: 2, owner: 3 };

export type Capability =
  | "read"
  | "operate" // start/stop tasks, check datasources, run compares, replay quarantine, create/edit resources
  | "manage"; // members, roles, workspace settings

const REQUIRED: Record<Capability, Role> = { read: "viewer", operate: "operator", manage: "owner" };

export function can(role: Role | null | undefined, capability: Capability): boolean {
  if (!role) return false;
  return RANK[role] >= RANK[REQUIRED[capability]];
}
