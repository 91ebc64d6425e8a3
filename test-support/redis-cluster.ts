// A Redis Cluster of three masters for the suites that run the stack on one (tests/cluster): on the ports named by
// TEST_REDIS_CLUSTER_PORTS (`7001,7002,7003`) when set, else on three free ones, each with a free bus port; stopped
// and removed by `stop()`.
import { type LocalRedisCluster, startRedisCluster } from "../scripts/redis-cluster.ts";
import { fixedPort, TEST_READ_TOKEN } from "./index.ts";

export async function startTestRedisCluster(): Promise<LocalRedisCluster> {
  const named = process.env.TEST_REDIS_CLUSTER_PORTS;
  if (named) return startRedisCluster(named.split(",").map(Number));
  // Free ports for the cluster buses too: Redis's own choice, the port + 10000, falls among the ports the system hands
  // to outgoing connections, where another test's client may hold it.
  const ports = [await fixedPort(), await fixedPort(), await fixedPort()];
  const busPorts = [await fixedPort(), await fixedPort(), await fixedPort()];
  return startRedisCluster(ports, { busPorts });
}

/** The environment every process of a test stack on `cluster` shares: its nodes, the run's prefix and database, P partitions. */
export function clusterStackEnv(cluster: LocalRedisCluster, prefix: string, mongoUrl: string, partitions: number) {
  return {
    NODE_ENV: "test",
    REDIS_CLUSTER_NODES: cluster.env,
    REDIS_PREFIX: prefix,
    MONGO_URL: mongoUrl,
    ADMIN_TOKEN: "test-admin-token",
    READ_TOKENS: TEST_READ_TOKEN,
    LEAD_PARTITIONS: String(partitions),
  };
}
