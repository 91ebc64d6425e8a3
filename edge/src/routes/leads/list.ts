import { COLLECTIONS, type LeadDocument, LeadIdSchema, STAGES, stageFor } from "@leadscore/contracts";
import { Hono } from "hono";
import type { Filter, Sort } from "mongodb";
import { z } from "zod";
import { CursorParamSchema, decodeCursor, encodeCursor, setPageHeaders } from "../../api/cursor.ts";
import { intParam, parseQuery } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import { PAGE_HEADERS, type RouteDoc } from "../../openapi/route-doc.ts";
import { LEAD_PROJECTION, LeadSchema, toLead } from "./lead.ts";

/** Longest `q` accepted: the search is a linear regex scan, so its cost must stay bounded. */
export const MAX_SEARCH_LENGTH = 100;
export const MAX_PAGE_SIZE = 200;

const SORTS = {
  "-score": { field: "current_score", dir: -1 },
  score: { field: "current_score", dir: 1 },
  "-updated_at": { field: "updated_at", dir: -1 },
  updated_at: { field: "updated_at", dir: 1 },
} as const;
type SortName = keyof typeof SORTS;
const SORT_NAMES = Object.keys(SORTS) as [SortName, ...SortName[]];

export const ListLeadsQuerySchema = z
  .strictObject({
    min_score: intParam(0, 1_000_000).optional().describe("Only leads scoring at least this much."),
    max_score: intParam(0, 1_000_000).optional().describe("Only leads scoring at most this much."),
    stage: z.enum(STAGES, { error: `must be one of ${STAGES.join(", ")}` }).optional(),
    company: z
      .string()
      .min(1, { error: "must not be empty" })
      .max(200, { error: "must be at most 200 characters" })
      .optional()
      .describe("Exact company name."),
    q: z
      .string()
      .min(1, { error: "must not be empty" })
      .max(MAX_SEARCH_LENGTH, { error: `must be at most ${MAX_SEARCH_LENGTH} characters` })
      .regex(/^[^\p{Cc}]*$/u, { error: "must not contain control characters" })
      .optional()
      .describe("Case-insensitive substring of the name, email or company."),
    sort: z
      .enum(SORT_NAMES, { error: `must be one of ${SORT_NAMES.join(", ")}` })
      .default("-score")
      .describe("Order; `-` means descending. Ties are broken by `_id`, in the opposite direction."),
    limit: intParam(1, MAX_PAGE_SIZE).default(50).describe("Page size."),
    cursor: CursorParamSchema.optional(),
  })
  .superRefine((query, ctx) => {
    if (query.min_score !== undefined && query.max_score !== undefined && query.min_score > query.max_score) {
      ctx.addIssue({ code: "custom", path: ["max_score"], message: "must not be less than min_score" });
    }
  });

const ListCursorSchema = z.strictObject({
  s: z.enum(SORT_NAMES),
  v: z.union([z.number().int(), z.iso.datetime(), z.null()]),
  id: LeadIdSchema,
});
type ListCursor = z.infer<typeof ListCursorSchema>;

/** Escapes every regex metacharacter so `q` is always matched literally. */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

type LeadFilter = Filter<LeadDocument>;

function filterFor(query: z.infer<typeof ListLeadsQuerySchema>, zeroStage: string): LeadFilter[] {
  const and: LeadFilter[] = [];
  const { min_score: min, max_score: max } = query;
  if (min !== undefined && min > 0) {
    and.push({ current_score: max === undefined ? { $gte: min } : { $gte: min, $lte: max } });
  } else if (max !== undefined) {
    // `$not` also matches leads without score fields yet (profile only), which count as 0.
    and.push({ current_score: { $not: { $gt: max } } });
  }
  if (query.stage !== undefined) {
    // Profile-only leads have no stage field yet; they are in the stage of score 0.
    and.push(
      query.stage === zeroStage
        ? { stage: { $in: [query.stage, null] } as Filter<LeadDocument>["stage"] }
        : { stage: query.stage },
    );
  }
  if (query.company !== undefined) and.push({ company: query.company });
  if (query.q !== undefined) {
    const pattern = { $regex: escapeRegex(query.q), $options: "i" };
    and.push({ $or: [{ name: pattern }, { email: pattern }, { company: pattern }] });
  }
  return and;
}

/**
 * Keyset condition "strictly after the cursor" for sort `(field dir, _id -dir)`. Missing or null values sort
 * lowest in MongoDB, so they come last in descending order and first in ascending order.
 */
function afterCursor(cursor: ListCursor): LeadFilter {
  const { field, dir } = SORTS[cursor.s];
  const value = cursor.v === null ? null : field === "updated_at" ? new Date(String(cursor.v)) : cursor.v;
  if (dir === -1) {
    if (value === null) return { [field]: null, _id: { $gt: cursor.id } };
    return { $or: [{ [field]: { $not: { $gte: value } } }, { [field]: value, _id: { $gt: cursor.id } }] };
  }
  if (value === null) return { $or: [{ [field]: null, _id: { $lt: cursor.id } }, { [field]: { $ne: null } }] };
  return { $or: [{ [field]: { $gt: value } }, { [field]: value, _id: { $lt: cursor.id } }] };
}

function combine(conditions: LeadFilter[]): LeadFilter {
  if (conditions.length === 0) return {};
  if (conditions.length === 1) return conditions[0] as LeadFilter;
  return { $and: conditions };
}

export const listLeadsDoc: RouteDoc = {
  method: "get",
  path: "/api/leads",
  operationId: "listLeads",
  summary: "List leads",
  description:
    'Filtered, sorted leads with keyset paging: follow the `Link` header\'s `rel="next"` until it is absent. ' +
    "Unknown or repeated parameters are refused.",
  tag: "Leads",
  auth: "read",
  query: ListLeadsQuerySchema,
  responses: {
    200: { description: "One page of leads.", schema: z.array(LeadSchema), headers: PAGE_HEADERS },
  },
};

export function listLeadsRoute(deps: AppDeps) {
  const leads = deps.db.collection<LeadDocument>(COLLECTIONS.leads);
  const zeroStage = stageFor(0, deps.config.STAGE_THRESHOLDS);
  return new Hono().get("/", async (c) => {
    const query = parseQuery(c, ListLeadsQuerySchema);
    // A cursor only continues the order it was issued for.
    const cursor =
      query.cursor === undefined
        ? null
        : decodeCursor(
            query.cursor,
            ListCursorSchema.refine((position) => position.s === query.sort),
          );
    const conditions = filterFor(query, zeroStage);
    const { field, dir } = SORTS[query.sort];
    const page = conditions.concat(cursor === null ? [] : [afterCursor(cursor)]);
    const [docs, total] = await Promise.all([
      leads
        .find(combine(page), { projection: LEAD_PROJECTION })
        .sort({ [field]: dir, _id: -dir } as Sort)
        .limit(query.limit + 1)
        .toArray(),
      conditions.length === 0 ? leads.estimatedDocumentCount() : leads.countDocuments(combine(conditions)),
    ]);
    const more = docs.length > query.limit;
    const items = more ? docs.slice(0, query.limit) : docs;
    const last = items.at(-1);
    let next: string | null = null;
    if (more && last) {
      const raw = last[field];
      const v = raw instanceof Date ? raw.toISOString() : typeof raw === "number" ? raw : null;
      next = encodeCursor({ s: query.sort, v, id: last._id } satisfies ListCursor);
    }
    setPageHeaders(c, next, total);
    return c.json(items.map((doc) => toLead(doc, deps.config.STAGE_THRESHOLDS)));
  });
}
