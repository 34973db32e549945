// Who is signed in, their workspaces and the one being worked in (remembered per browser).
import { createContext, useContext } from "react";
import type { Role } from "./roles";

export interface WorkspaceRef {
  id: number;
  name: string;
  role: Role;
}

export interface Me {
  id: number;
  username: string;
  email: string;
  is_superuser: boolean;
  workspaces: WorkspaceRef[];
}

export interface Session {
  me: Me;
  workspace: WorkspaceRef | null;
  setWorkspace: (id: number) => void;
  reload: () => Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside the signed-in app");
  return session;
}

/** The caller's role in the current workspace (a superuser acts as owner everywhere). */
export function useRole(): Role | null {
  const { me, workspace } = useSession();
  if (me.is_superuser) return "owner";
  return workspace?.role ?? null;
}

export function pickWorkspace(me: Me, saved: string | null): WorkspaceRef | null {
  const id = Number(saved);
  return me.workspaces.find((w) => w.id === id) ?? me.workspaces[0] ?? null;
}
