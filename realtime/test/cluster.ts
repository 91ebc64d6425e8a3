// Realtime instances for integration tests: real Redis and MongoDB, isolated by a unique key prefix and database.
import {
  type ClientToServerEvents,
  COLLECTIONS,
  type HistoryDocument,
  type LeadDocument,
  parseConfig,
  type RealtimeConfig,
  RealtimeConfigSchema,
  type ScoreUpdate,
  type ServerToClientEvents,
  silentLogger,
  sortKey,
  stageFor,
} from "@leadscore/contracts";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";
import { io, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";
import { createTestDb, createTestRedis, REDIS_URL, TEST_READ_TOKEN, uniqueName } from "../../test-support/index.ts";
import { createScorePublisher, type RedisScorePublisher } from "../../worker/src/publisher.ts";
import { createRealtimeServer, type RealtimeServer } from "../src/server.ts";

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface Cluster {
  config: RealtimeConfig;
  db: Db;
  redis: Redis;
  /** `http://127.0.0.1:<port>` of each instance. */
  urls: string[];
  /** A publisher that knows only Redis and the database, as the worker's does. */
  publisher(options?: { leaderboardIntervalMs?: number }): RedisScorePublisher;
  /** A client of instance `index`, closed by `stop()`. */
  connect(index: number, options?: Partial<ManagerOptions & SocketOptions>): ClientSocket;
  stop(): Promise<void>;
}

export async function startCluster(instances = 2, env: Record<string, string> = {}): Promise<Cluster> {
  const name = uniqueName("realtime");
  const database = await createTestDb(name);
  const { redis, cleanup } = await createTestRedis(name);
  const config = parseConfig(RealtimeConfigSchema, {
    NODE_ENV: "test",
    REDIS_URL,
    MONGO_URL: database.url,
    REDIS_PREFIX: name,
    READ_TOKENS: TEST_READ_TOKEN,
    ADMIN_TOKEN: "test-admin-token",
    ...env,
  });
  const servers: RealtimeServer[] = [];
  const urls: string[] = [];
  for (let i = 0; i < instances; i += 1) {
    const server = createRealtimeServer(config, silentLogger);
    servers.push(server);
    urls.push(`http://127.0.0.1:${await server.listen(0)}`);
  }
  const sockets: ClientSocket[] = [];
  const publishers: RedisScorePublisher[] = [];
  const publisherClients: Redis[] = [];
  return {
    config,
    db: database.db,
    redis,
    urls,
    publisher(options = {}) {
      const client = redis.duplicate();
      publisherClients.push(client);
      const publisher = createScorePublisher({
        redis: client,
        db: database.db,
        redisPrefix: name,
        log: silentLogger,
        ...options,
      });
      publishers.push(publisher);
      return publisher;
    },
    connect(index, options = {}) {
      const url = urls[index];
      if (!url) throw new Error(`no instance ${index}`);
      const socket: ClientSocket = io(url, {
        transports: ["websocket"],
        forceNew: true,
        auth: { token: TEST_READ_TOKEN },
        ...options,
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

/** Records every event of one kind a socket receives. */
export function record<E extends keyof ServerToClientEvents>(
  socket: ClientSocket,
  event: E,
): Array<{ at: number; payload: Parameters<ServerToClientEvents[E]>[0] }> {
  const received: Array<{ at: number; payload: Parameters<ServerToClientEvents[E]>[0] }> = [];
  const listener = (payload: Parameters<ServerToClientEvents[E]>[0]) => {
    received.push({ at: Date.now(), payload });
  };
  (socket.on as (event: string, listener: (payload: never) => void) => void)(event, listener);
  return received;
}

/** Stores a lead as the worker leaves it after scoring, plus its newest history entry. */
export async function storeScoredLead(
  db: Db,
  leadId: string,
  score: number,
  newest = { event_id: `${leadId}-e1`, event_type: "purchase", delta: score, timestamp: new Date() },
): Promise<void> {
  const now = new Date();
  const lead: LeadDocument = {
    _id: leadId,
    name: null,
    email: null,
    company: null,
    current_score: score,
    stage: stageFor(score),
    event_count: 1,
    last_event_at: newest.timestamp,
    score_reached_at: newest.timestamp,
    last_sort_key: null,
    version: 1,
    created_at: now,
    updated_at: now,
  };
  await db.collection<LeadDocument>(COLLECTIONS.leads).replaceOne({ _id: leadId }, lead, { upsert: true });
  await db.collection<HistoryDocument>(COLLECTIONS.history).insertOne({
    _id: newest.event_id,
    event_id: newest.event_id,
    lead_id: leadId,
    event_type: newest.event_type,
    timestamp: newest.timestamp,
    received_at: now,
    points: newest.delta,
    delta: newest.delta,
    score,
    reason: "test",
    rule_id: null,
    sort_key: sortKey(newest.timestamp.getTime(), newest.event_id),
    late: false,
  });
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
