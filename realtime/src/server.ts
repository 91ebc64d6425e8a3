// A realtime instance: Socket.io on an HTTP server, joined to every other instance through the Redis adapter, so a
// change the worker emits into Redis reaches a dashboard connected to any instance.
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type ClientToServerEvents,
  LEADERBOARD_ROOM,
  LeadIdSchema,
  leadRoom,
  READ_TOKEN_REQUIRED,
  type RealtimeConfig,
  readSecrets,
  realtimeChannelKey,
  type ServerToClientEvents,
  SUBSCRIBES_IN_FLIGHT,
  type SubscribeAck,
  TOO_MANY_SUBSCRIBES_IN_FLIGHT,
} from "@leadscore/contracts";
import { createPartitionedReader } from "@leadscore/live";
import { createRedis, createScoringSettingsCache, createSecretCheck, type Logger } from "@leadscore/runtime";
import { createAdapter } from "@socket.io/redis-adapter";
import { Server, type Socket } from "socket.io";
import { createLeadState, type LeadState } from "./lead-state.ts";
import { createRequestQueue } from "./request-queue.ts";
import { TurnCorkedWebSocketServer } from "./ws-engine.ts";

export interface RealtimeServer {
  /** Connects to Redis, then listens; resolves with the port actually bound (useful with port 0). */
  listen(port: number): Promise<number>;
  /** Disconnects every socket, leaves the Redis channels and closes the clients. */
  close(): Promise<void>;
}

interface SocketData {
  address: string;
  /** The handshake's read token, checked again on every subscribe. */
  token: string;
}
type RealtimeSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

export const TOO_MANY_CONNECTIONS = "too many connections from this address";
/** The client closed its connection before the handshake's checks ended (it never sees this answer). */
export const CONNECTION_CLOSED = "connection closed during the handshake";
export const TOO_MANY_SUBSCRIPTIONS = "too many subscriptions on this socket";
export const ORIGIN_NOT_ALLOWED = "origin not allowed";
/**
 * Requests of one socket waiting behind those; any more are answered at once with TOO_MANY_SUBSCRIBES_IN_FLIGHT, so
 * a burst costs the server the parse and the answer of each message, and every answer comes within a few snapshot
 * reads. The dashboard sends at most SUBSCRIBES_IN_FLIGHT at a time and sends a refused one again.
 */
export const SUBSCRIBES_WAITING = 16;

export interface RealtimeServerOptions {
  /** Where snapshots and the leaderboard are read (default: the live state in Redis); tests may pace it. */
  state?: LeadState;
}

/** Browser origins allowed to connect: CORS_ORIGINS, or the dashboard served by a local edge. */
export function allowedOrigins(config: Pick<RealtimeConfig, "CORS_ORIGINS" | "PORT">): string[] {
  if (config.CORS_ORIGINS.length > 0) return config.CORS_ORIGINS;
  return [`http://localhost:${config.PORT}`, `http://127.0.0.1:${config.PORT}`];
}

/**
 * Whether a token reads (a read token or the admin token), against the config as it is at each call rather than at
 * start-up: a token taken out of a running instance's config stops working at its socket's next subscribe.
 */
function createReadCheck(config: Pick<RealtimeConfig, "READ_TOKENS" | "ADMIN_TOKEN">) {
  let seen: Pick<RealtimeConfig, "READ_TOKENS" | "ADMIN_TOKEN"> | null = null;
  let check = createSecretCheck([]);
  return (token: string): Promise<boolean> => {
    if (seen?.READ_TOKENS !== config.READ_TOKENS || seen.ADMIN_TOKEN !== config.ADMIN_TOKEN) {
      seen = { READ_TOKENS: config.READ_TOKENS, ADMIN_TOKEN: config.ADMIN_TOKEN };
      check = createSecretCheck(readSecrets(config));
    }
    return check(token);
  };
}

export function createRealtimeServer(
  config: RealtimeConfig,
  log: Logger,
  options: RealtimeServerOptions = {},
): RealtimeServer {
  const http = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  const pub = createRedis(config);
  const sub = pub.duplicate();
  // Reads on a connection of their own, so snapshots never queue behind the adapter's traffic.
  const reads = pub.duplicate();
  for (const [role, client] of [
    ["pub", pub],
    ["sub", sub],
    ["reads", reads],
  ] as const) {
    client.on("error", (error: Error) => log.warn("redis error", { client: role, error: error.message }));
  }
  // Snapshots and leaderboards decay scores with the half-life in force: Redis's copy of the scoring settings, reloaded
  // when a change is announced (on a connection of its own: the adapter's subscriber takes only its own channels).
  const settingsSub = pub.duplicate();
  settingsSub.on("error", (error: Error) => log.warn("redis error", { client: "settings", error: error.message }));
  const scoring = createScoringSettingsCache({
    redis: reads,
    subscriber: settingsSub,
    redisPrefix: config.REDIS_PREFIX,
    log,
  });
  const state =
    options.state ??
    createLeadState(
      createPartitionedReader({
        redis: reads,
        redisPrefix: config.REDIS_PREFIX,
        partitions: config.LEAD_PARTITIONS,
        cap: config.SCORE_CAP,
        thresholds: config.STAGE_THRESHOLDS,
        halfLife: scoring.halfLife,
      }),
    );
  const origins = allowedOrigins(config);
  const connections = new Map<string, number>();
  const canRead = createReadCheck(config);

  const io = new Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>(http, {
    serveClient: false,
    // Long-polling requests get CORS headers for these origins only.
    cors: { origin: origins, methods: ["GET", "POST"] },
    // WebSocket upgrades are not subject to CORS in browsers, so the origin is checked on every handshake here.
    // Requests without an Origin header come from non-browser clients, which CORS does not concern.
    allowRequest(req: IncomingMessage, callback) {
      const origin = req.headers.origin;
      if (origin === undefined || origins.includes(origin)) return callback(null, true);
      log.debug("socket refused", { reason: ORIGIN_NOT_ALLOWED, origin });
      callback(ORIGIN_NOT_ALLOWED, false);
    },
    adapter: createAdapter(pub, sub, { key: realtimeChannelKey(config.REDIS_PREFIX) }),
    // Acknowledgements of a burst go out in one write (ws-engine.ts).
    wsEngine: TurnCorkedWebSocketServer,
  });

  // A read token in the handshake's `auth: { token }`, checked before the socket takes a connection slot. Refused
  // with a named `connect_error`, after which a client does not retry on its own. The token is never logged.
  io.use(async (socket, next) => {
    const token = (socket.handshake.auth as { token?: unknown }).token;
    if (typeof token !== "string" || !(await canRead(token))) {
      log.debug("socket refused", { reason: READ_TOKEN_REQUIRED, address: socket.handshake.address });
      return next(new Error(READ_TOKEN_REQUIRED));
    }
    socket.data.token = token;
    next();
  });

  // Counted per Socket.io connection rather than per HTTP handshake, so the refused client gets a named
  // `connect_error` and does not retry on its own. The slot is given back on every path out: the socket's
  // disconnect, or the connection's close — which is the only sign of a client that left during the token check, as
  // Socket.io then drops the socket without a `connection` or a `disconnect`.
  io.use((socket, next) => {
    const address = socket.handshake.address;
    // Gone while the token was checked: its close has been and gone, so a slot taken now would never come back.
    if (socket.conn.readyState !== "open") return next(new Error(CONNECTION_CLOSED));
    const open = connections.get(address) ?? 0;
    if (open >= config.MAX_CONNECTIONS_PER_ADDRESS) {
      log.warn("socket refused", { reason: TOO_MANY_CONNECTIONS, address, open });
      return next(new Error(TOO_MANY_CONNECTIONS));
    }
    connections.set(address, open + 1);
    socket.data.address = address;
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      socket.conn.off("close", release);
      const left = (connections.get(address) ?? 1) - 1;
      if (left > 0) connections.set(address, left);
      else connections.delete(address);
    };
    socket.conn.once("close", release);
    socket.once("disconnect", release);
    next();
  });

  io.on("connection", (socket: RealtimeSocket) => {
    socket.join(LEADERBOARD_ROOM);
    state.leaderboard().then(
      (top) => socket.emit("leaderboard", { top }),
      (error: Error) => log.warn("leaderboard read failed", { error: error.message }),
    );

    // Subscribes and unsubscribes share one queue, so they take effect in the order the client sent them.
    const requests = createRequestQueue(SUBSCRIBES_IN_FLIGHT, SUBSCRIBES_WAITING);
    socket.on("disconnect", () => requests.drop());
    // Requests for one lead run one after another (keyed by its id), so a subscribe's join cannot land after the
    // unsubscribe sent behind it.
    const queue = (
      request: unknown,
      ack: ((result: SubscribeAck) => void) | undefined,
      handle: () => Promise<SubscribeAck>,
    ) => {
      const leadId = parseLeadId(request);
      if (!requests.push(() => answer(ack, handle), leadId.ok ? leadId.value : undefined)) {
        reply(ack, { ok: false, error: TOO_MANY_SUBSCRIBES_IN_FLIGHT });
      }
    };

    // Rooms of subscribes that passed the limit and have not joined yet: several run at once, and each awaits before
    // it joins, so the limit counts them from the moment they pass it, in the order they were sent.
    const joining = new Set<string>();
    socket.on("subscribe", (request, ack) =>
      queue(request, ack, async () => {
        const leadId = parseLeadId(request);
        const room = leadId.ok ? leadRoom(leadId.value) : null;
        if (room !== null && !socket.rooms.has(room)) {
          if (leadRooms(socket) + joining.size >= config.MAX_SUBSCRIPTIONS_PER_SOCKET) {
            return (await canRead(socket.data.token))
              ? { ok: false, error: TOO_MANY_SUBSCRIPTIONS }
              : refuseRevoked(socket);
          }
          joining.add(room);
        }
        try {
          if (!(await canRead(socket.data.token))) return refuseRevoked(socket);
          if (!leadId.ok || room === null) return leadId;
          // Join before reading, so a change committed meanwhile arrives live rather than falling between the two.
          await socket.join(room);
        } finally {
          if (room !== null) joining.delete(room);
        }
        // Nobody is left to read for.
        if (socket.disconnected) return { ok: true };
        try {
          const snapshot = await state.snapshot(leadId.value);
          if (snapshot) socket.emit("score_update", snapshot);
        } catch (error) {
          // Subscribed all the same: live changes still arrive, and the dashboard has its own read of the lead.
          log.warn("snapshot read failed", { lead_id: leadId.value, error: (error as Error).message });
        }
        return { ok: true };
      }),
    );

    socket.on("unsubscribe", (request, ack) =>
      queue(request, ack, async () => {
        const leadId = parseLeadId(request);
        if (!leadId.ok) return leadId;
        await socket.leave(leadRoom(leadId.value));
        return { ok: true };
      }),
    );
  });

  /** Runs a request handler and acknowledges its result; a failure is logged and answered, never thrown. */
  function answer(ack: ((result: SubscribeAck) => void) | undefined, handle: () => Promise<SubscribeAck>) {
    return handle().then(
      (result) => reply(ack, result),
      (error: Error) => {
        log.error("socket request failed", { error: error.message, stack: error.stack });
        reply(ack, { ok: false, error: "internal error" });
      },
    );
  }

  return {
    async listen(port) {
      // Commands on one connection run in order, so this answer means the adapter's subscriptions are in place and
      // nothing published after `listen` resolves can be missed.
      await sub.ping();
      await scoring.start();
      await new Promise<void>((resolve, reject) => {
        http.once("error", reject);
        http.listen(port, () => {
          http.off("error", reject);
          resolve();
        });
      });
      return (http.address() as AddressInfo).port;
    },
    async close() {
      // Also closes the HTTP server and the adapter, which leaves its Redis channels.
      await new Promise<void>((resolve) => {
        io.close(() => resolve());
      });
      scoring.close();
      await Promise.allSettled([pub.quit(), sub.quit(), reads.quit(), settingsSub.quit()]);
    },
  };
}

/** Refuses a socket whose token no longer reads: the answer goes out first, then the socket is disconnected. */
function refuseRevoked(socket: RealtimeSocket): SubscribeAck {
  setImmediate(() => socket.disconnect(true));
  return { ok: false, error: READ_TOKEN_REQUIRED };
}

/** The lead rooms a socket is in (every socket is also in its own room and the leaderboard's). */
function leadRooms(socket: RealtimeSocket): number {
  let count = 0;
  for (const room of socket.rooms) if (room.startsWith(leadRoom(""))) count += 1;
  return count;
}

function parseLeadId(request: unknown): { ok: true; value: string } | { ok: false; error: string } {
  const leadId = (request as { lead_id?: unknown } | null | undefined)?.lead_id;
  const parsed = LeadIdSchema.safeParse(leadId);
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, error: `lead_id ${parsed.error.issues[0]?.message ?? "is invalid"}` };
}

function reply(ack: ((result: SubscribeAck) => void) | undefined, result: SubscribeAck): void {
  if (typeof ack === "function") ack(result);
}
