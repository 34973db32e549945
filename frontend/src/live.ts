// /ws/tasks/<id>/: the task's live messages over a WebSocket on the same origin (the session cookie
// authenticates it). Reconnects with a growing pause when the connection drops.
import { useEffect, useRef, useState } from "react";

export type LiveMessage = { type: "task_metrics" | "task_live"; [key: string]: unknown };

export function taskSocketUrl(taskId: number, location: { protocol: string; host: string } = window.location): string {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/tasks/${taskId}/`;
}

/** Connects once `enabled` (the task was readable: an outsider's page never opens a socket). */
export function useTaskLive(taskId: number, onMessage: (message: LiveMessage) => void, enabled = true): "connecting" | "open" | "closed" | "refused" {
  const [state, setState] = useState<"connecting" | "open" | "closed" | "refused">("connecting");
  const handler = useRef(onMessage);
  handler.current = onMessage;
  useEffect(() => {
    if (!enabled) return;
    let socket: WebSocket | null = null;
    let stopped = false;
    let delay = 1000;
    let timer: number | undefined;
    const connect = () => {
      setState("connecting");
      socket = new WebSocket(taskSocketUrl(taskId));
      socket.onopen = () => {
        delay = 1000;
        setState("open");
      };
      socket.onmessage = (event) => handler.current(JSON.parse(event.data as string) as LiveMessage);
      socket.onclose = (event) => {
        if (stopped) return;
        if (event.code === 4401 || event.code === 4404) {
          setState("refused"); // not signed in, or not a member: retrying will not help
          return;
        }
        setState("closed");
        timer = window.setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      };
    };
    connect();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
      socket?.close();
    };
  }, [taskId, enabled]);
  return state;
}
