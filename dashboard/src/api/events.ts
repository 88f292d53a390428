// Live updates: the API's server-sent events (`/api/v1/events`), read with fetch because
// EventSource cannot send the Authorization header. Reconnects with backoff, resuming after
// the last event id it saw (`Last-Event-ID`, as EventSource would); callers fall back to
// polling while it is down.
import type { ClusterDelta } from "../lib/deltas";
import { authHeaders, errorFrom, type SeriesPoint } from "./client";

export type LiveEvent =
  | { type: "test"; namespace: string; name: string; phase?: string | null; deleted: boolean }
  | { type: "experiment"; namespace: string; name: string; phase?: string | null; deleted: boolean }
  | { type: "cluster"; cluster: string; phase?: string | null; deleted: boolean }
  | { type: "snapshot"; collectedAt?: string }
  | { type: "testSeries"; namespace: string; name: string; point: SeriesPoint }
  | ({ type: "delta" } & ClusterDelta)
  | { type: "revisions"; revisions: Record<string, number> }
  | { type: "resync" };

export type StreamState = "connecting" | "open" | "closed" | "unauthorized";

type SseEvent = { event: string; data: string; id?: string };

/** Splits an SSE byte stream's text into events (pure; `rest` is an incomplete tail). */
export function parseSse(text: string): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = [];
  const blocks = text.split(/\r?\n\r?\n/);
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    let event = "message";
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(":")) continue;
      const i = line.indexOf(":");
      const key = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
      if (key === "event") event = value;
      else if (key === "data") data.push(value);
      else if (key === "id") id = value;
    }
    if (data.length) events.push({ event, data: data.join("\n"), ...(id === undefined ? {} : { id }) });
  }
  return { events, rest };
}

/** Follows the event stream until `signal` aborts. */
export async function follow(
  onEvent: (e: LiveEvent) => void,
  onState: (s: StreamState) => void,
  signal: AbortSignal,
): Promise<void> {
  let delay = 1000;
  let lastEventId: string | undefined;
  while (!signal.aborted) {
    onState("connecting");
    try {
      const response = await fetch("/api/v1/events", {
        headers: { Accept: "text/event-stream", ...authHeaders(), ...(lastEventId === undefined ? {} : { "Last-Event-ID": lastEventId }) },
        signal,
      });
      if (response.status === 401) {
        onState("unauthorized");
        return;
      }
      if (!response.ok || !response.body) throw await errorFrom(response);
      onState("open");
      delay = 1000;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const parsed = parseSse(buffer + value);
        buffer = parsed.rest;
        for (const e of parsed.events) {
          if (e.id !== undefined) lastEventId = e.id;
          try {
            onEvent(JSON.parse(e.data) as LiveEvent);
          } catch {
            // A malformed event is skipped; the next resync repairs the caches.
          }
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    onState("closed");
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 30_000);
  }
}
