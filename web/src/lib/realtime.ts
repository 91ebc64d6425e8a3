// The one realtime connection of the app. Pages subscribe to the leads they show; subscriptions are counted so two
// views of the same lead share one room membership, and they are renewed after every reconnect.
import type { LeaderboardUpdate, LeadMerged, ScoreUpdate, SubscribeRequest } from "@leadscore/contracts";
import { READ_TOKEN_REQUIRED, SUBSCRIBES_IN_FLIGHT, TOO_MANY_SUBSCRIBES_IN_FLIGHT } from "@leadscore/contracts/socket";
import { type ReadonlySignal, signal } from "@preact/signals";

export type RealtimeStatus = "connecting" | "live" | "offline";

/** The part of a Socket.io client socket this app uses (a fake implements it in tests). */
export interface RealtimeSocket {
  readonly connected: boolean;
  on(event: "connect", listener: () => void): unknown;
  on(event: "disconnect", listener: (reason: string) => void): unknown;
  on(event: "connect_error", listener: (error: Error) => void): unknown;
  on(event: "score_update", listener: (update: ScoreUpdate) => void): unknown;
  on(event: "leaderboard", listener: (update: LeaderboardUpdate) => void): unknown;
  on(event: "lead_merged", listener: (merged: LeadMerged) => void): unknown;
  emit(
    event: "subscribe" | "unsubscribe",
    request: SubscribeRequest,
    ack?: (result: { ok: boolean; error?: string }) => void,
  ): unknown;
  connect(): unknown;
  disconnect(): unknown;
}

/**
 * Why a `leaderboard` arrived: scores moved (`change`), or the server sent its current top to a socket that just
 * connected — the app's first connection (`initial`: the pages have just read what they show) or a reconnection
 * (`resync`: what they show may be stale).
 */
export type LeaderboardReason = "change" | "initial" | "resync";

export interface Realtime {
  readonly status: ReadonlySignal<RealtimeStatus>;
  onScoreUpdate(listener: (update: ScoreUpdate) => void): () => void;
  onLeaderboard(listener: (update: LeaderboardUpdate, reason: LeaderboardReason) => void): () => void;
  /** A lead whose room this socket is in was merged into another (an identify, an admin merge). */
  onLeadMerged(listener: (merged: LeadMerged) => void): () => void;
  /** Joins the lead's room until the returned function is called. */
  subscribe(leadId: string): () => void;
  close(): void;
}

const RETRY_MS = 250;
/** A request whose answer never comes (a server without acknowledgements) stops holding its slot after this. */
const ANSWER_TIMEOUT_MS = 5_000;

export function createRealtime(
  socket: RealtimeSocket,
  options: {
    /** The server refused the socket's token: the session is over. */
    onUnauthorized?: () => void;
  } = {},
): Realtime {
  const status = signal<RealtimeStatus>(socket.connected ? "live" : "connecting", { name: "realtime.status" });
  const rooms = new Map<string, number>();
  const scoreListeners = new Set<(update: ScoreUpdate) => void>();
  const leaderboardListeners = new Set<(update: LeaderboardUpdate, reason: LeaderboardReason) => void>();
  const mergedListeners = new Set<(merged: LeadMerged) => void>();
  /** What the next `leaderboard` is: the server sends its top once to every socket that connects. */
  let nextLeaderboard: LeaderboardReason = "initial";
  let connectedBefore = false;

  // Requests go out at most SUBSCRIBES_IN_FLIGHT at a time, in order, so renewing a page of rooms never floods the
  // server; one it refuses for being too many goes out again a moment later.
  const outbox: { event: "subscribe" | "unsubscribe"; leadId: string }[] = [];
  let inFlight = 0;
  const pump = () => {
    while (inFlight < SUBSCRIBES_IN_FLIGHT && outbox.length > 0 && socket.connected) {
      const request = outbox.shift() as (typeof outbox)[number];
      inFlight += 1;
      let answered = false;
      const done = (result?: { ok: boolean; error?: string }) => {
        if (answered) return;
        answered = true;
        clearTimeout(timer);
        inFlight -= 1;
        if (result?.error === TOO_MANY_SUBSCRIBES_IN_FLIGHT)
          setTimeout(() => send(request.event, request.leadId), RETRY_MS);
        pump();
      };
      const timer = setTimeout(done, ANSWER_TIMEOUT_MS);
      socket.emit(request.event, { lead_id: request.leadId }, done);
    }
  };
  const send = (event: "subscribe" | "unsubscribe", leadId: string) => {
    // A request made moot by a later one (a subscribe already released, or the reverse) is not sent.
    if ((event === "subscribe") !== rooms.has(leadId)) return;
    outbox.push({ event, leadId });
    pump();
  };

  socket.on("connect", () => {
    status.value = "live";
    nextLeaderboard = connectedBefore ? "resync" : "initial";
    connectedBefore = true;
    outbox.length = 0;
    inFlight = 0;
    for (const leadId of rooms.keys()) send("subscribe", leadId);
  });
  socket.on("disconnect", (reason) => {
    status.value = "offline";
    // The server hangs up on a socket whose token it no longer accepts, and Socket.io does not retry that on its
    // own; connecting again either succeeds or fails with the reason below.
    if (reason === "io server disconnect") socket.connect();
  });
  socket.on("connect_error", (error) => {
    status.value = "offline";
    if (error.message === READ_TOKEN_REQUIRED) options.onUnauthorized?.();
  });
  socket.on("score_update", (update) => {
    for (const listener of scoreListeners) listener(update);
  });
  socket.on("lead_merged", (merged) => {
    for (const listener of mergedListeners) listener(merged);
  });
  socket.on("leaderboard", (update) => {
    const reason = nextLeaderboard;
    nextLeaderboard = "change";
    for (const listener of leaderboardListeners) listener(update, reason);
  });

  const listen = <T>(set: Set<T>, listener: T) => {
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  };

  return {
    status,
    onScoreUpdate: (listener) => listen(scoreListeners, listener),
    onLeaderboard: (listener) => listen(leaderboardListeners, listener),
    onLeadMerged: (listener) => listen(mergedListeners, listener),
    subscribe(leadId) {
      const count = rooms.get(leadId) ?? 0;
      rooms.set(leadId, count + 1);
      // While disconnected nothing is sent: the `connect` handler joins every counted room.
      if (count === 0 && socket.connected) send("subscribe", leadId);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (rooms.get(leadId) ?? 1) - 1;
        if (left > 0) {
          rooms.set(leadId, left);
          return;
        }
        rooms.delete(leadId);
        if (socket.connected) send("unsubscribe", leadId);
      };
    },
    close() {
      scoreListeners.clear();
      leaderboardListeners.clear();
      mergedListeners.clear();
      socket.disconnect();
    },
  };
}

const REALTIME_PARAM = "realtime";
const REALTIME_KEY = "leadscore.realtime-url";
const DEFAULT_REALTIME_PORT = 8081;

/**
 * Where the Socket.io server is, in order: a `?realtime=<url>` query parameter (kept for the tab's session, so a
 * deployment or a test can point the app at any port), the build-time `VITE_REALTIME_URL` (empty = this origin),
 * this origin under the Vite dev server (which proxies `/socket.io`), else this host on `VITE_REALTIME_PORT` (set by
 * `npm start` from `REALTIME_PORT`) or 8081.
 */
export function resolveRealtimeUrl(options: {
  location: Pick<Location, "href" | "protocol" | "hostname" | "origin">;
  storage: Pick<Storage, "getItem" | "setItem"> | null;
  configured: string | undefined;
  /** Build-time `VITE_REALTIME_PORT`: the port on this host when no URL is configured. */
  port?: string | undefined;
  dev: boolean;
}): string {
  const { location, storage } = options;
  const fromQuery = new URL(location.href).searchParams.get(REALTIME_PARAM);
  if (fromQuery && /^https?:\/\//.test(fromQuery)) {
    storage?.setItem(REALTIME_KEY, fromQuery);
    return fromQuery;
  }
  const stored = storage?.getItem(REALTIME_KEY);
  if (stored) return stored;
  if (options.configured !== undefined) return options.configured === "" ? location.origin : options.configured;
  if (options.dev) return location.origin;
  const port = options.port && /^\d{1,5}$/.test(options.port) ? options.port : DEFAULT_REALTIME_PORT;
  return `${location.protocol}//${location.hostname}:${port}`;
}
