// The baseline of `npm run bench:ingest`: the obvious ingestion handler — parse, `queue.add` one job per event,
// answer 202 — on the same runtime (Deno), the same Redis and the same Bull queue as the real edge.
import Queue from "bull";
import { Hono } from "hono";

const queue = new Queue("events", Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379", {
  prefix: Deno.env.get("REDIS_PREFIX") ?? "naive",
});
const app = new Hono();
app.post("/api/events", async (c) => {
  const event = await c.req.json();
  await queue.add(event, { removeOnComplete: true });
  return c.json({ success: true }, 202);
});
app.post("/api/batch", async (c) => {
  const { events } = (await c.req.json()) as { events: unknown[] };
  for (const event of events) await queue.add(event, { removeOnComplete: true });
  return c.json({ accepted: events.length }, 202);
});
// The same 43-byte GIF the edge answers, so both pixels cost the same on the wire.
const gif = Uint8Array.from(atob("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="), (char) =>
  char.charCodeAt(0),
);
app.get("/p.gif", async (c) => {
  await queue.add(c.req.query(), { removeOnComplete: true });
  return c.body(gif, 200, { "content-type": "image/gif", "cache-control": "no-store" });
});

const server = Deno.serve({ port: 0, onListen: ({ port }) => console.log(`naive listening ${port}`) }, app.fetch);
Deno.addSignalListener("SIGTERM", async () => {
  await server.shutdown();
  await queue.close();
  Deno.exit(0);
});
