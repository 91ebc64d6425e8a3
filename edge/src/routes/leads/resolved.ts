// Per-lead reads of an id merged into another lead (an identify, an admin merge) answer that lead, as
// `GET /api/leads/:id` does: a page still holding an anonymous id goes on reading its visitor. The read is tried on the
// id first, so a lead's own reads cost what they did; only an id without live state pays one HGET of the identity map.
import type { Context } from "hono";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";

/**
 * `read` of the lead `id`, else of the lead it was merged into, else NOT_FOUND. When the answer is another lead's, the
 * response names that lead's URL for the same read in `Content-Location` (the request's path with the id replaced).
 */
export async function readResolved<T>(
  deps: Pick<AppDeps, "redis" | "live">,
  c: Context,
  id: string,
  read: (leadId: string) => Promise<T | null>,
): Promise<{ leadId: string; value: T }> {
  const own = await read(id);
  if (own !== null) return { leadId: id, value: own };
  const root = await deps.redis.hget(deps.live.keysFor(id).aliases, id);
  const value = root === null ? null : await read(root);
  if (root === null || value === null) throw new ApiError("NOT_FOUND", `no lead ${id}`);
  answeredFor(c, id, root);
  return { leadId: root, value };
}

/** Names, in `Content-Location`, the URL of the lead `root` whose data answers a request for the merged id `id`. */
export function answeredFor(c: Context, id: string, root: string): void {
  const url = new URL(c.req.url);
  const prefix = `/api/leads/${id}`;
  const rest = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : "";
  c.header("Content-Location", `/api/leads/${root}${rest}${url.search}`);
}
