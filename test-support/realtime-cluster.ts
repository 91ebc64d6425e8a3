// Realtime instances for integration tests: real Redis, isolated by a unique key prefix. The live state they read is
// seeded as the worker commits it; MongoDB points at a port nobody listens on, since realtime never queries it.
import {
  type ClientToServerEvents,
  parseConfig,
  type RealtimeConfig,
  RealtimeConfigSchema,
  realtimeChannelKey,
  type ScoreUpdate,
  type ServerToClientEvents,
  stageFor,
} from "@leadscore/contracts";
import { createLiveReader, type LiveReader } from "@leadscore/live";
import { createRealtimeServer, type RealtimeServer, type RealtimeServerOptions } from "@leadscore/realtime";
import { EVENTS_QUEUE, type EventsJob, silentLogger } from "@leadscore/runtime";
import {
  createScorePublisher,
  encodeScoreUpdates,
  type RedisScorePublisher,
  type ScorePublisherOptions,
} from "@leadscore/worker";
import Queue from "bull";
import type { Redis } from "ioredis";
import { io, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";
import {
  createTestDb,
  createTestRedis,
  eventually,
  fixedPort,
  REDIS_URL,
  TEST_READ_TOKEN,
  uniqueName,
} from "./index.ts";
import { createLiveSeeder, eventsOf, type LiveSeeder } from "./live.ts";
import { NODE_TS, type RunningProcess, startProcess } from "./processes.ts";

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface Cluster {
  config: RealtimeConfig;
  /** A database of the cluster's own, for a worker to write (the realtime servers are given none). */
  mongoUrl: string;
  redis: Redis;
  live: LiveReader;
  seeder: LiveSeeder;
  /** `http://127.0.0.1:<port>` of each instance. */
  urls: string[];
  /** A publisher that knows only Redis and the live state, as the worker's does. */
  publisher(options?: Pick<ScorePublisherOptions, "leaderboardIntervalMs" | "onLeaderboardEmit">): RedisScorePublisher;
  /**
   * Commits a lead's new score as the worker does, its `score_update` published by the commit itself; resolves with
   * that update.
   */
  commitScore(leadId: string, score: number, at?: number): Promise<ScoreUpdate>;
  /** A client of instance `index`, closed by `stop()`. */
  connect(index: number, options?: Partial<ManagerOptions & SocketOptions>): ClientSocket;
  stop(): Promise<void>;
}

export async function startCluster(
  instances = 2,
  env: Record<string, string> = {},
  options: RealtimeServerOptions = {},
): Promise<Cluster> {
  const name = uniqueName("realtime");
  // Only the seeder writes here (profiles, history pages); the realtime servers get no reachable MongoDB.
  const database = await createTestDb(name);
  const { redis, cleanup } = await createTestRedis(name);
  const config = parseConfig(RealtimeConfigSchema, {
    NODE_ENV: "test",
    REDIS_URL,
    MONGO_URL: `mongodb://127.0.0.1:${await fixedPort()}/unreachable`,
    REDIS_PREFIX: name,
    READ_TOKENS: TEST_READ_TOKEN,
    ADMIN_TOKEN: "test-admin-token",
    ...env,
  });
  const live = createLiveReader({
    redis,
    redisPrefix: name,
    cap: config.SCORE_CAP,
    thresholds: config.STAGE_THRESHOLDS,
  });
  const seeder = createLiveSeeder({ redis, db: database.db, redisPrefix: name });
  const servers: RealtimeServer[] = [];
  const urls: string[] = [];
  for (let i = 0; i < instances; i += 1) {
    const server = createRealtimeServer(config, silentLogger, options);
    servers.push(server);
    urls.push(`http://127.0.0.1:${await server.listen(0)}`);
  }
  const sockets: ClientSocket[] = [];
  const publishers: RedisScorePublisher[] = [];
  const publisherClients: Redis[] = [];
  return {
    config,
    mongoUrl: database.url,
    redis,
    live,
    seeder,
    urls,
    publisher(publisherOptions = {}) {
      const client = redis.duplicate();
      publisherClients.push(client);
      const publisher = createScorePublisher({
        redis: client,
        live: createLiveReader({
          redis: client,
          redisPrefix: name,
          cap: config.SCORE_CAP,
          thresholds: config.STAGE_THRESHOLDS,
        }),
        redisPrefix: name,
        log: silentLogger,
        ...publisherOptions,
      });
      publishers.push(publisher);
      return publisher;
    },
    async commitScore(leadId, score, at = Date.now()) {
      const eventId = `${leadId}-${score}-${at}`;
      const update: ScoreUpdate = {
        lead_id: leadId,
        current_score: score,
        delta: score,
        stage: stageFor(score),
        event_id: eventId,
        event_type: "purchase",
        timestamp: new Date(at).toISOString(),
      };
      const messages = encodeScoreUpdates(realtimeChannelKey(name), [update]).get(leadId) ?? [];
      const [event] = eventsOf(leadId, [score], at);
      await seeder.seed([
        { id: leadId, events: [{ ...(event as NonNullable<typeof event>), event_id: eventId }], messages },
      ]);
      return update;
    },
    connect(index, socketOptions = {}) {
      const url = urls[index];
      if (!url) throw new Error(`no instance ${index}`);
      const socket: ClientSocket = io(url, {
        transports: ["websocket"],
        forceNew: true,
        auth: { token: TEST_READ_TOKEN },
        ...socketOptions,
      });
      sockets.push(socket);
      return socket;
    },
    async stop() {
      for (const socket of sockets) socket.disconnect();
      await Promise.all(publishers.map((publisher) => publisher.close()));
      await Promise.all(publisherClients.map((client) => client.quit()));
      await Promise.all(servers.map((server) => server.close()));
      await cleanup();
      await database.drop();
    },
  };
}

/** Resolves once the socket is connected; rejects with the server's reason if it is refused. */
export function connected(socket: ClientSocket): Promise<void> {
  if (socket.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", (error) => reject(error));
  });
}

/**
 * `count` sockets of instance 0, once the server takes them all: sockets a test closed just before may still hold
 * their connection slots until the server sees them leave.
 */
export function connectWhenAccepted(
  cluster: Cluster,
  count = 1,
  options: Partial<ManagerOptions & SocketOptions> = {},
): Promise<ClientSocket[]> {
  return eventually(async () => {
    const sockets = Array.from({ length: count }, () => cluster.connect(0, options));
    try {
      await Promise.all(sockets.map(connected));
      return sockets;
    } catch {
      for (const socket of sockets) socket.disconnect();
      return null;
    }
  });
}

/** Records every event of one kind a socket receives. */
export function record<E extends keyof ServerToClientEvents>(
  socket: ClientSocket,
  event: E,
): Array<{ payload: Parameters<ServerToClientEvents[E]>[0] }> {
  const received: Array<{ payload: Parameters<ServerToClientEvents[E]>[0] }> = [];
  const listener = (payload: Parameters<ServerToClientEvents[E]>[0]) => {
    received.push({ payload });
  };
  (socket.on as (event: string, listener: (payload: never) => void) => void)(event, listener);
  return received;
}

/**
 * Commits a lead as the worker leaves it after scoring two events: one bringing it to `score - newest.delta`, then
 * `newest`, so its snapshot shows `newest`.
 */
export async function storeScoredLead(
  cluster: Pick<Cluster, "seeder">,
  leadId: string,
  score: number,
  newest = { event_id: `${leadId}-e1`, event_type: "purchase", delta: score, timestamp: new Date() },
): Promise<void> {
  const at = newest.timestamp.getTime();
  const events = eventsOf(leadId, [score - newest.delta], at - 60_000);
  events.push({
    event_id: newest.event_id,
    lead_id: leadId,
    event_type: newest.event_type,
    timestamp: at,
    received_at: at,
    points: newest.delta,
    rule_id: newest.event_type,
  });
  await cluster.seeder.seed([{ id: leadId, events, updatedAt: Date.now() }]);
}

export function scoreUpdate(leadId: string, score: number, eventId = `${leadId}-${score}`): ScoreUpdate {
  return {
    lead_id: leadId,
    current_score: score,
    delta: score,
    stage: stageFor(score),
    event_id: eventId,
    event_type: "purchase",
    timestamp: new Date().toISOString(),
  };
}

/** A worker process scoring into a cluster's live state, and the queue it consumes. */
export interface ClusterWorker {
  worker: RunningProcess;
  queue: Queue.Queue<EventsJob>;
  /** Closes the queue, then stops the worker. */
  stop(): Promise<void>;
}

/** Starts a worker process (Node itself, not the tsx launcher, which kills its child 30 ms after passing on a signal). */
export async function startClusterWorker(cluster: Pick<Cluster, "config" | "mongoUrl">): Promise<ClusterWorker> {
  const worker = startProcess(NODE_TS[0], [...NODE_TS.slice(1), "worker/src/main.ts"], {
    NODE_ENV: "test",
    REDIS_URL,
    MONGO_URL: cluster.mongoUrl,
    REDIS_PREFIX: cluster.config.REDIS_PREFIX,
    LOG_LEVEL: "info",
  });
  await worker.waitFor(/worker ready/, 60_000);
  const queue = new Queue<EventsJob>(EVENTS_QUEUE, REDIS_URL, { prefix: cluster.config.REDIS_PREFIX });
  return {
    worker,
    queue,
    async stop() {
      await queue.close();
      await worker.stop();
    },
  };
}
