import { rulesChannel } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { REDIS_URL } from "../../test-support/index.ts";

/** Listens on the rules channel of `prefix`, as every worker does; `close()` disconnects. */
export async function listenForRuleChanges(prefix: string) {
  const subscriber = new Redis(REDIS_URL);
  const messages: { change: string; rule_id: string; at: string }[] = [];
  subscriber.on("message", (_channel: string, message: string) => messages.push(JSON.parse(message)));
  await subscriber.subscribe(rulesChannel(prefix));
  return {
    messages,
    close: () => subscriber.disconnect(),
  };
}

export const ADMIN = { authorization: "Bearer test-admin-token", "content-type": "application/json" };
