// What the processes of a fault stack logged about a fault of the live state: rebuilds and catch-ups, and how long a
// catch-up took once the restarted Redis was ready; and the fault that makes a worker rebuild, every live key deleted.
// Shared by the fault suite and `npm run bench:restart`.
import { liveKeys } from "@leadscore/live";
import type { Redis } from "ioredis";

export const rebuildsLogged = (output: string) => output.match(/live state rebuilt/g)?.length ?? 0;
export const catchUpsLogged = (output: string) =>
  output.match(/live state caught up after a Redis restart/g)?.length ?? 0;

/** When the last Redis started logged "Ready to accept connections" (epoch ms; Redis logs local time). */
export function redisReadyAt(output: string): number | undefined {
  const ready = [
    ...output.matchAll(/(\d{2}) (\w{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2})\.(\d{3}) \* Ready to accept connections/g),
  ].at(-1);
  if (!ready) return undefined;
  const [, day, month, year, h, m, sec, ms] = ready as unknown as string[];
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  return new Date(
    Number(year),
    months.indexOf(month as string),
    Number(day),
    Number(h),
    Number(m),
    Number(sec),
    Number(ms),
  ).getTime();
}

/**
 * From the restarted Redis's "Ready to accept connections" to the worker's "caught up" after it, both as logged (on
 * this machine's clock): what the catch-up took once Redis was back, without the caller's own delays (the process
 * that measures may also drive the load).
 */
export function catchUpAfterReadyMs(output: string): number | undefined {
  const readyAt = redisReadyAt(output);
  if (readyAt === undefined) return undefined;
  for (const line of output.matchAll(/\{"t":"([^"]+)"[^\n]*live state caught up after a Redis restart/g)) {
    const at = Date.parse(line[1] as string);
    if (at >= readyAt) return at - readyAt;
  }
  return undefined;
}

/** Deletes every key matching `<prefix>:live:*`; returns how many. */
export async function deleteLiveKeys(redis: Redis, prefix: string): Promise<number> {
  let [cursor, deleted] = ["0", 0];
  do {
    const [next, found] = await redis.scan(cursor, "MATCH", liveKeys(prefix).pattern, "COUNT", 1000);
    cursor = next;
    if (found.length > 0) deleted += await redis.del(...found);
  } while (cursor !== "0");
  return deleted;
}
