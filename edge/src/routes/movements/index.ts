import { STAGES } from "@leadscore/contracts";
import { MOVEMENT_CAP, MOVEMENT_WINDOW_MS, readMovements } from "@leadscore/live";
import { partitionPrefixes } from "@leadscore/runtime";
import { Hono } from "hono";
import { z } from "zod";
import { apiCors } from "../../api/cors.ts";
import { CursorParamSchema, decodeCursor, encodeCursor, setPageHeaders } from "../../api/cursor.ts";
import { intParam, parseQuery } from "../../api/query.ts";
import { requireReader } from "../../auth/read.ts";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { scoreNumber } from "../../openapi/score.ts";

export const MAX_MOVEMENTS_PAGE = 200;

const HOUR_MS = 60 * 60 * 1000;
const SINCE_ERROR = "must be 24h, 7d (any whole number of hours or days up to 7 days), an ISO-8601 time or epoch ms";

/** `since` as a window back from now (`24h`, `7d`) or a time; resolved against the request's time. */
const SinceSchema = z
  .string()
  .regex(/^(\d{1,3}[hd]|\d{1,15}|\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d))$/, { error: SINCE_ERROR })
  .refine((value) => !/^\d+[hd]$/.test(value) || windowMs(value) <= MOVEMENT_WINDOW_MS, { error: SINCE_ERROR })
  .refine((value) => /^\d+[hd]$/.test(value) || Number.isFinite(sinceTime(value, 0)), { error: SINCE_ERROR })
  .describe(
    "Oldest commit time included: a window back from now (`24h`, `7d`; whole hours or days, at most 7 days), an " +
      "ISO-8601 time or epoch ms. Movements are kept for 7 days.",
  );

function windowMs(value: string): number {
  const amount = Number(value.slice(0, -1));
  return value.endsWith("d") ? amount * 24 * HOUR_MS : amount * HOUR_MS;
}

function sinceTime(value: string, now: number): number {
  if (/^\d+[hd]$/.test(value)) return now - windowMs(value);
  if (/^\d+$/.test(value)) return Number(value);
  return Date.parse(value);
}

export const MovementsQuerySchema = z.strictObject({
  since: SinceSchema.default("24h"),
  stage: z
    .enum(STAGES, { error: `must be one of ${STAGES.join(", ")}` })
    .optional()
    .describe("Only leads that entered this stage; every stage when absent."),
  limit: intParam(1, MAX_MOVEMENTS_PAGE).default(50).describe("Page size."),
  cursor: CursorParamSchema.optional(),
});

/**
 * The last movement of a page (stream id, stage entered, its lead partition when not 0), the stage filter and `since`
 * as the first page resolved it.
 */
const MovementCursorSchema = z.strictObject({
  id: z.string().regex(/^\d{1,15}-\d{1,15}$/),
  to: z.enum(STAGES),
  p: z.number().int().nonnegative().optional(),
  stage: z.enum(STAGES).nullable(),
  since: z.number().int().nonnegative(),
});
type MovementCursor = z.infer<typeof MovementCursorSchema>;

const isoDate = z.iso.datetime();

export const MovementSchema = z
  .object({
    lead_id: z.string(),
    from: z.enum(STAGES).describe("The stage the lead left."),
    to: z.enum(STAGES).describe("The stage the lead entered."),
    at: isoDate.describe("When the commit that moved the lead happened."),
    event_id: z.string().describe("The event that moved the lead (see the description)."),
    event_type: z.string(),
    timestamp: isoDate.describe("The event's time."),
    score: scoreNumber("The lead's score after that commit, at the moving event's time."),
  })
  .meta({ id: "Movement" });
type MovementBody = z.infer<typeof MovementSchema>;

export const movementsDoc: RouteDoc = {
  method: "get",
  path: "/api/movements",
  operationId: "listMovements",
  summary: "Leads that entered a stage",
  description:
    "Each time a commit moves a lead to another stage (up or down: `to` tells), the worker records it in the same " +
    "atomic step, with the event that moved it: the newest of the commit's events at or before the history entry " +
    "where the score entered the new stage (the crossing event, or a late event slotted in before it). A lead that " +
    "entered a stage twice in the window is listed once per entry. What a commit recorded stays as recorded: a later " +
    "late event that does not move the stage again changes no movement. A rebuild of the live state records none. " +
    "With score decay, a lead that decays below a threshold with no event is recorded by the commit of that stage " +
    "change: its event is `decay:<stage entered>` of type `decay`, and `timestamp` and `at` are the crossing instant.\n\n" +
    "Newest first. Read from Redis only (one stream per stage entered, `XREVRANGE` from the cursor), never from " +
    `MongoDB; each stream keeps 7 days and about ${MOVEMENT_CAP.toLocaleString("en")} movements. Follow the \`Link\` ` +
    'header\'s `rel="next"`: a page continues strictly after the last movement listed, and movements recorded ' +
    "while you page are newer than it, so none is skipped or listed twice. The window (`since`) stays as the first " +
    "page resolved it.",
  tag: "Leads",
  auth: "read",
  query: MovementsQuerySchema,
  responses: {
    200: {
      description: "One page of movements, newest first.",
      schema: z.array(MovementSchema),
      headers: { Link: 'Next page as `<path?…&cursor=…>; rel="next"`; absent on the last page.' },
    },
  },
};

export function movementRoutes(deps: AppDeps) {
  return new Hono()
    .use("*", apiCors(deps.config))
    .get("*", requireReader(deps.config))
    .get("/", async (c) => {
      const query = parseQuery(c, MovementsQuerySchema);
      const stage = query.stage ?? null;
      const cursor: MovementCursor | null =
        query.cursor === undefined
          ? null
          : decodeCursor(
              query.cursor,
              MovementCursorSchema.refine((position) => position.stage === stage),
            );
      const since = cursor?.since ?? Math.max(0, sinceTime(query.since, (deps.now ?? Date.now)()));
      const prefixes = partitionPrefixes(deps.config.REDIS_PREFIX, deps.config.LEAD_PARTITIONS);
      const page = await readMovements(deps.redis, prefixes, {
        stage: query.stage,
        since,
        limit: query.limit,
        after: cursor === null ? null : { id: cursor.id, stage: cursor.to, partition: cursor.p ?? 0 },
      });
      const next =
        page.next === null
          ? null
          : encodeCursor({
              id: page.next.id,
              to: page.next.stage,
              ...(page.next.partition ? { p: page.next.partition } : {}),
              stage,
              since,
            } satisfies MovementCursor);
      setPageHeaders(c, next);
      return c.json(
        page.movements.map(
          (movement): MovementBody => ({
            lead_id: movement.lead_id,
            from: movement.from,
            to: movement.to,
            at: new Date(movement.at).toISOString(),
            event_id: movement.event_id,
            event_type: movement.event_type,
            timestamp: new Date(movement.timestamp).toISOString(),
            score: movement.score,
          }),
        ),
      );
    });
}
