// Every process's Redis connections come from here: one Redis at REDIS_URL, or a Redis Cluster when
// REDIS_CLUSTER_NODES names its nodes (then REDIS_URL gives only the credentials and TLS).
//
// A Cluster is handed out typed as a Redis: it answers the same commands, scripts (`defineCommand`), pipelines and
// pub/sub, routing each command to its key's slot, and has the same connection methods (`connect`, `duplicate`,
// `quit`, `disconnect`, `status`). Two things differ. A command without a key (`INFO`, `SCAN`, `CONFIG`) reaches one
// node, any of them: code that means every node asks `serversOf`. And a pipeline or a multi-key command must keep its
// keys in one slot, which the deployment's hash-tagged prefix guarantees (contracts' `checkClusterPrefix`,
// live/src/keys.ts).
import type { RedisClusterNode } from "@leadscore/contracts";
import Queue from "bull";
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from "ioredis";

/** Where Redis is: the part of a process's configuration every Redis connection reads. */
export interface RedisTarget {
  REDIS_URL: string;
  /** Empty: one Redis at REDIS_URL. */
  REDIS_CLUSTER_NODES: readonly RedisClusterNode[];
}

/** Options of the cluster client itself; every other option applies to each node's connection. */
const CLUSTER_LEVEL = ["lazyConnect", "enableOfflineQueue", "enableReadyCheck"] as const;

/** A connection to the configured Redis, or to the configured Redis Cluster (see the header). */
export function createRedis(target: RedisTarget, options: RedisOptions = {}): Redis {
  if (target.REDIS_CLUSTER_NODES.length === 0) return new Redis(target.REDIS_URL, options);
  const nodeOptions: RedisOptions = { ...credentialsOf(target.REDIS_URL), ...options };
  const clusterOptions: ClusterOptions = {};
  for (const name of CLUSTER_LEVEL) {
    if (nodeOptions[name] !== undefined) clusterOptions[name] = nodeOptions[name];
    delete nodeOptions[name];
  }
  const nodes = target.REDIS_CLUSTER_NODES.map((node) => ({ ...node }));
  return new Cluster(nodes, { ...clusterOptions, redisOptions: nodeOptions }) as unknown as Redis;
}

/** The user, password and TLS of a `redis:`/`rediss:` URL, which a cluster client applies to every node. */
function credentialsOf(url: string): RedisOptions {
  const parsed = new URL(url);
  const options: RedisOptions = {};
  if (parsed.username) options.username = decodeURIComponent(parsed.username);
  if (parsed.password) options.password = decodeURIComponent(parsed.password);
  if (parsed.protocol === "rediss:") options.tls = {};
  return options;
}

/** Whether the connection is a cluster client (see the header). */
export function isCluster(redis: Redis): boolean {
  return (redis as unknown as { isCluster?: boolean }).isCluster === true;
}

/**
 * Every server a keyless command must reach to see all keys (`SCAN`) or every process (`INFO`): the connection itself,
 * or each master of the Cluster, once the client knows them.
 */
export async function serversOf(redis: Redis): Promise<Redis[]> {
  if (!isCluster(redis)) return [redis];
  const cluster = redis as unknown as Cluster;
  // A cluster client learns its masters on connecting; a first command waits for that.
  if (cluster.nodes("master").length === 0) await cluster.ping();
  return cluster.nodes("master");
}

/**
 * A Bull queue on the configured Redis. On a Cluster, Bull needs `createClient` (its own connections would each reach
 * one node), and its prefix must be hash-tagged so that each of its scripts' keys share a slot. Bull leaves clients it
 * did not create open at `close()`, so these are handed to it as its own (`clients`), which it closes.
 */
export function createQueue<T>(name: string, target: RedisTarget, options: Queue.QueueOptions = {}): Queue.Queue<T> {
  if (target.REDIS_CLUSTER_NODES.length === 0) return new Queue<T>(name, target.REDIS_URL, options);
  const clients: Redis[] = [];
  const queue = new Queue<T>(name, {
    ...options,
    // Bull refuses a ready check or a retry limit on its blocking and subscriber clients, which wait indefinitely.
    createClient: (type) => {
      const client = createRedis(
        target,
        type === "client" ? {} : { enableReadyCheck: false, maxRetriesPerRequest: null },
      );
      clients.push(client);
      // Bull's typings name the ioredis it bundles; at run time it only calls commands every client has.
      return client as unknown as ReturnType<NonNullable<Queue.QueueOptions["createClient"]>>;
    },
  });
  queue.clients = clients as unknown as typeof queue.clients;
  return queue;
}
