import { createMissingIndexes, rulesChannel } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { createTestEdge } from "../../test-support/edge.ts";
import { REDIS_URL } from "../../test-support/index.ts";
import type { AppDeps } from "../src/deps.ts";

/** Listens on the rules channel of `prefix`, as every worker does; `close()` disconnects. */
export async function listenForRuleChanges(prefix: string) {
  const subscriber = new Redis(REDIS_URL);
  const messages: { change: string; rule_id?: string; group_id?: string; at: string; rules_version?: number }[] = [];
  subscriber.on("message", (_channel: string, message: string) => messages.push(JSON.parse(message)));
  await subscriber.subscribe(rulesChannel(prefix));
  return {
    messages,
    close: () => subscriber.disconnect(),
  };
}

export const ADMIN = { authorization: "Bearer test-admin-token", "content-type": "application/json" };

/** An edge with its indexes made and a listener on its rules channel, for the rules and groups tests. */
export async function createRulesEdge(extra: Partial<AppDeps> = {}) {
  const edge = await createTestEdge({}, extra);
  await createMissingIndexes(edge.deps.db, edge.deps.log);
  const listener = await listenForRuleChanges(edge.deps.config.REDIS_PREFIX);
  return {
    edge,
    listener,
    /** A request with the admin token and a JSON body. */
    send: (method: string, path: string, body?: unknown) =>
      edge.app.request(path, { method, headers: ADMIN, body: body === undefined ? undefined : JSON.stringify(body) }),
    async close() {
      listener.close();
      await edge.close();
    },
  };
}
