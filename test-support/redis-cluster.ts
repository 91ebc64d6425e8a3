// A Redis Cluster of three masters for the suites that run the stack on one (tests/cluster): on the ports named by
// TEST_REDIS_CLUSTER_PORTS (`7001,7002,7003`) when set, else on three free ones; stopped and removed by `stop()`.
import { type LocalRedisCluster, startRedisCluster } from "../scripts/redis-cluster.ts";
import { fixedPort } from "./index.ts";

export async function startTestRedisCluster(): Promise<LocalRedisCluster> {
  const named = process.env.TEST_REDIS_CLUSTER_PORTS;
  const ports = named ? named.split(",").map(Number) : [await fixedPort(), await fixedPort(), await fixedPort()];
  return startRedisCluster(ports);
}
