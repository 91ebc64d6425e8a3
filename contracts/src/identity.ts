// Identity: an anonymous visitor's id merged into a known lead (`POST /api/identify`, the pixel's `anonymous_id`, a
// beacon's identify), or one known lead into another by an admin (`POST /api/leads/:id/merge`). What is checked
// here needs no state: the ids' shape and the placeholders no merge may name; the edge checks the rest against the
// identity map (docs/identity.md).
import { z } from "zod";
import { LeadIdSchema } from "./event.ts";

/**
 * Ids a tracker sends when it has no id at all (`identify(null)` stringified, an unset variable, a default): merging
 * on one of them would merge every visitor that sent it. Compared trimmed and in lower case; `PLACEHOLDER_IDS`
 * replaces the list.
 */
export const DEFAULT_PLACEHOLDER_IDS = [
  "null",
  "undefined",
  "anonymous",
  "0",
  "-1",
  "[object object]",
  "none",
  "nan",
  "guest",
] as const;

/** Whether `value` is no id: not a string, empty or whitespace, or one of the placeholders. */
export function isPlaceholderId(value: unknown, placeholders: readonly string[] = DEFAULT_PLACEHOLDER_IDS): boolean {
  if (typeof value !== "string") return true;
  const id = value.trim().toLowerCase();
  return id === "" || placeholders.includes(id);
}

/** `POST /api/identify` (and the pixel's, the beacon's): the anonymous id and the lead it belongs to. */
export const IdentifySchema = z.strictObject({
  anonymous_id: LeadIdSchema.describe("The id the visitor's events were sent with so far (a first-party cookie)."),
  lead_id: LeadIdSchema.describe("The known lead: an existing one, or a new id (the anonymous lead is renamed)."),
});
export type Identify = z.infer<typeof IdentifySchema>;

/** `POST /api/leads/:id/merge` (admin): another lead merged into this one. */
export const MergeLeadSchema = z.strictObject({
  from: LeadIdSchema.describe("The lead merged into the one in the path, which it then resolves to."),
  reason: z.string().trim().min(1).max(500).describe("Why: kept in the merge's audit record."),
});
export type MergeLead = z.infer<typeof MergeLeadSchema>;

/** How a merge was asked for: an identify (write key) or an admin merge of two known leads. */
export type MergeKind = "identify" | "admin";

/** A merge as it travels through the events queue, in order with the events, to the worker. */
export interface MergeRequest {
  /** The id that stops being a lead of its own. */
  from: string;
  /** The lead it joins (the worker resolves it to its root). */
  into: string;
  kind: MergeKind;
  /** Epoch ms the edge accepted it. */
  at: number;
  reason?: string;
}

export const MergeRequestSchema = z.strictObject({
  from: LeadIdSchema,
  into: LeadIdSchema,
  kind: z.enum(["identify", "admin"]),
  at: z.number().int().nonnegative(),
  reason: z.string().max(500).optional(),
});

/**
 * A merge between lead partitions, claimed before it is recorded (`merge_pairs`, `_id` = `mergePairId` of its two
 * leads): the first stored of two opposite merges of the same pair is the one that happens.
 */
export interface MergePairDocument {
  _id: string;
  from: string;
  into: string;
  at: Date;
}

/** The `merge_pairs` id of two leads, the same whichever way they are merged. */
export function mergePairId(one: string, other: string): string {
  return one < other ? `${one}\n${other}` : `${other}\n${one}`;
}

/**
 * `identities` (MongoDB): one document per merged id, inserted once (`_id` = the merged id: a second merge of it is
 * an insert conflict). The durable identity map, from which a rebuild lays out the live one; also the audit of
 * admin merges.
 */
export interface IdentityDocument {
  _id: string;
  /** The root the id was merged into when the merge was recorded. */
  into: string;
  kind: MergeKind;
  reason: string | null;
  at: Date;
}

/**
 * The root each id resolves to, from the recorded merges (`from` → `into`), following chains to their end: the
 * union-find of the identity map, compressed. A merge that would close a loop is ignored (the edge and the worker
 * refuse it before it is recorded).
 */
export function resolveRoots(merges: Iterable<{ from: string; into: string }>): Map<string, string> {
  const parent = new Map<string, string>();
  const find = (id: string): string => {
    let root = id;
    while (parent.has(root)) root = parent.get(root) as string;
    // Path compression: every id on the way points at the root.
    for (let at = id; at !== root; ) {
      const next = parent.get(at) as string;
      parent.set(at, root);
      at = next;
    }
    return root;
  };
  for (const { from, into } of merges) {
    const root = find(into);
    if (root !== find(from)) parent.set(find(from), root);
  }
  const roots = new Map<string, string>();
  for (const id of parent.keys()) roots.set(id, find(id));
  return roots;
}
