import { z } from "zod";

/** How far in the future a client clock may be before an event is refused. */
export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;
/** How far in the past an event may be stamped by default (`EVENT_MAX_AGE_DAYS`): older is a client's broken clock. */
export const DEFAULT_EVENT_MAX_AGE_DAYS = 730;
const DAY_MS = 86_400_000;
/** Largest serialized `metadata` object accepted, in bytes (UTF-8). */
export const MAX_METADATA_BYTES = 4096;
/** Deepest nesting accepted inside `metadata`. */
export const MAX_METADATA_DEPTH = 16;

export const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
export const EVENT_TYPE_PATTERN = /^[a-z0-9_]{1,64}$/;

export const EventIdSchema = z
  .string({ error: "must be a string" })
  .regex(ID_PATTERN, { error: "must be 1-128 characters of A-Z a-z 0-9 . _ : -" });
export const LeadIdSchema = EventIdSchema;
export const EventTypeSchema = z
  .string({ error: "must be a string" })
  .regex(EVENT_TYPE_PATTERN, { error: "must be 1-64 characters of a-z 0-9 _" });

const ISO_8601 = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Parses an ISO-8601 string or epoch milliseconds (number or digit string) to epoch ms, or null. */
export function parseTimestamp(value: unknown): number | null {
  if (typeof value === "number") {
    return Number.isSafeInteger(value) && value >= 0 ? value : null;
  }
  if (typeof value !== "string" || value.length > 64) return null;
  if (/^\d{1,15}$/.test(value)) return Number(value);
  if (!ISO_8601.test(value)) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) || ms < 0 ? null : ms;
}

/** Keys refused at any depth of metadata: JavaScript reads them as more than data. */
export const RESERVED_METADATA_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/** What is wrong with a metadata value, and where (keys and indexes below `metadata`). */
export interface MetadataProblem {
  path: (string | number)[];
  message: string;
}

/** What is wrong with a metadata key (operator-like, dotted, reserved), or null when it may be stored. */
export function metadataKeyProblem(key: string): string | null {
  if (key.startsWith("$")) return `key "${key}" may not start with "$"`;
  if (key.includes(".")) return `key "${key}" may not contain "."`;
  if (RESERVED_METADATA_KEYS.has(key)) return `key "${key}" is reserved`;
  return null;
}

/**
 * The first problem with a metadata value (operator-like or reserved keys, depth), or null when it is acceptable.
 * Reads own keys only, so it must see the value as `JSON.parse` built it: a copy made by assigning keys loses an
 * own `__proto__`.
 */
export function metadataProblem(value: unknown, depth = 0, path: (string | number)[] = []): MetadataProblem | null {
  if (depth > MAX_METADATA_DEPTH) return { path, message: `nests deeper than ${MAX_METADATA_DEPTH} levels` };
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const problem = metadataProblem(item, depth + 1, [...path, index]);
      if (problem) return problem;
    }
    return null;
  }
  if (value !== null && typeof value === "object") {
    for (const key of Object.keys(value)) {
      const message = metadataKeyProblem(key);
      if (message) return { path: [...path, key], message };
      const problem = metadataProblem((value as Record<string, unknown>)[key], depth + 1, [...path, key]);
      if (problem) return problem;
    }
  }
  return null;
}

/**
 * What a store can keep of event metadata. FerretDB 1.x (the embedded store) refuses arrays directly inside arrays
 * (`[[1]]`); MongoDB keeps them. The edge refuses them by default (`METADATA_ALLOW_NESTED_ARRAYS` lifts it on
 * MongoDB); the worker dead-letters an event the store refuses anyway.
 */
export interface StoreLimits {
  nestedArrays: boolean;
}

/** The edge's default: what every supported store keeps exactly. */
export const STORE_LIMITS: StoreLimits = { nestedArrays: false };

/** A UTF-16 surrogate half without its pair: UTF-8 cannot encode it, so a store keeps U+FFFD in its place. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Characters worth a closer look: NUL, and any surrogate half. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding NUL is the point
const SUSPECT = /[\u0000\uD800-\uDFFF]/;
/**
 * Names of `Object.prototype`'s properties (`toString`, `valueOf`, `hasOwnProperty`, …). The MongoDB driver looks each
 * field name up in a plain object of "fields to leave raw" when it reads a document, finds these inherited, and hands
 * back the documents in an array under such a key as raw BSON buffers: `{"toString": [{}]}` is stored right and read
 * back altered. Refused at any depth, like the keys JavaScript itself reads as more than data.
 */
const INHERITED_KEYS: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));
/** C0 and C1 control characters and DEL. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/;

/**
 * What is wrong with a string a store would refuse or alter: a NUL (the driver refuses it in a key, and C strings end
 * at it), a lone surrogate (stored as U+FFFD); with `controls`, any control character (profile fields, which reach
 * CSV exports and other tools as text). Null when it is kept exactly.
 */
export function textProblem(value: string, controls = false): string | null {
  if (controls && CONTROL.test(value)) return "must not contain control characters";
  if (!SUSPECT.test(value)) return null;
  if (value.includes("\u0000")) return "must not contain a NUL character";
  if (LONE_SURROGATE.test(value)) return "must not contain a lone UTF-16 surrogate (it would be stored as U+FFFD)";
  return null;
}

/**
 * The first value in metadata a store would refuse or keep altered, or null: a NUL or a lone surrogate in any key or
 * string, a number that is not finite (JSON's `1e400` parses to Infinity, which JSON stores as null and FerretDB
 * refuses) or is -0 (kept as 0), an array directly inside an array unless the store keeps them. Runs at the edge only
 * (`normalizeEvent`): the worker takes what an edge queued, and the store is the judge of what it can keep there.
 */
export function unstorableProblem(
  value: unknown,
  limits: StoreLimits = STORE_LIMITS,
  path: (string | number)[] = [],
): MetadataProblem | null {
  const problem = unstorableAt(value, limits, false);
  if (problem) problem.path.unshift(...path);
  return problem;
}

/** The walk behind `unstorableProblem`: a problem's path is built on the way back, so a clean value costs no path. */
function unstorableAt(value: unknown, limits: StoreLimits, inArray: boolean): MetadataProblem | null {
  if (typeof value === "string") {
    const message = textProblem(value);
    return message ? { path: [], message } : null;
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return { path: [], message: "must be a finite number" };
    if (Object.is(value, -0)) return { path: [], message: "must not be -0 (it would be stored as 0)" };
    return null;
  }
  if (Array.isArray(value)) {
    if (inArray && !limits.nestedArrays) {
      return { path: [], message: "must not be an array inside an array: the store cannot keep nested arrays" };
    }
    for (let index = 0; index < value.length; index++) {
      const problem = unstorableAt(value[index], limits, true);
      if (problem) {
        problem.path.unshift(index);
        return problem;
      }
    }
    return null;
  }
  if (value !== null && typeof value === "object") {
    for (const key of Object.keys(value)) {
      const message = textProblem(key);
      if (message) return { path: [key], message: `key ${message}` };
      if (INHERITED_KEYS.has(key)) return { path: [key], message: `key "${key}" is reserved` };
      const problem = unstorableAt((value as Record<string, unknown>)[key], limits, false);
      if (problem) {
        problem.path.unshift(key);
        return problem;
      }
    }
  }
  return null;
}

const encoder = new TextEncoder();

/**
 * `metadata`: its keys are checked on the object as parsed, before `z.record` copies it. The copy drops an own
 * `__proto__` key (assigning it would replace the copy's prototype), so checking the copy let
 * `{"__proto__": {...}}` through as `{}`: an accepted event silently altered.
 */
export const MetadataSchema = z
  .unknown()
  .superRefine((value, ctx) => {
    const problem = metadataProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem.message, path: problem.path });
  })
  .pipe(
    z.record(z.string(), z.unknown(), { error: "must be a JSON object" }).superRefine((value, ctx) => {
      if (encoder.encode(JSON.stringify(value)).length > MAX_METADATA_BYTES) {
        ctx.addIssue({ code: "custom", message: `must be at most ${MAX_METADATA_BYTES} bytes serialized` });
      }
    }),
  )
  // What the document generator cannot see through the check that runs first: the input is an object.
  .meta({
    type: "object",
    additionalProperties: {},
    description:
      `A JSON object of at most ${MAX_METADATA_BYTES} bytes serialized. At any depth, keys may not start with ` +
      '"$", contain ".", or be "__proto__", "constructor", "prototype" or another name of Object.prototype ' +
      '("toString", "valueOf", …); no key or string may hold a NUL ' +
      "character or a lone UTF-16 surrogate, every number must be finite and not -0, and (unless the deployment " +
      "lifts it) no array may sit directly inside an array. A value the store would refuse or alter is refused.",
  });

/** An event as a client sends it (snake_case, as in the original brief). */
export const EventInputSchema = z.strictObject(
  {
    event_id: EventIdSchema.optional(),
    lead_id: LeadIdSchema,
    event_type: EventTypeSchema,
    timestamp: z
      .union([z.string(), z.number()], { error: "must be an ISO-8601 string or epoch milliseconds" })
      .optional(),
    metadata: MetadataSchema.optional(),
  },
  { error: "must be a JSON object" },
);
export type EventInput = z.infer<typeof EventInputSchema>;

/** An event as it travels through the queue: validated, with its id and times settled. */
export interface QueuedEvent {
  event_id: string;
  lead_id: string;
  event_type: string;
  /** Event time, epoch ms. */
  timestamp: number;
  /** When the edge accepted it, epoch ms. */
  received_at: number;
  metadata: Record<string, unknown>;
}

/** Epoch milliseconds as the edge settles them: a whole number from 0 to 2^53 - 1. */
const EpochMsSchema = z
  .number({ error: "must be epoch milliseconds" })
  .refine((value) => Number.isSafeInteger(value) && value >= 0, { error: "must be epoch milliseconds" });

/**
 * A `QueuedEvent` as a consumer of the queue reads it back: the same field rules as at the edge, since a job is only
 * as good as its producer. Unknown fields are dropped; a missing `metadata` reads as `{}`.
 */
export const QueuedEventSchema = z.object(
  {
    event_id: EventIdSchema,
    lead_id: LeadIdSchema,
    event_type: EventTypeSchema,
    timestamp: EpochMsSchema,
    received_at: EpochMsSchema,
    metadata: MetadataSchema.optional().transform((metadata) => metadata ?? {}),
  },
  { error: "must be an object" },
);

export interface FieldProblem {
  path: string;
  message: string;
}

export type NormalizeResult = { ok: true; event: QueuedEvent } | { ok: false; details: FieldProblem[] };

function issuePath(path: readonly PropertyKey[]): string {
  return path.map((part) => String(part)).join(".") || "(body)";
}

/** A timestamp's epoch ms, or why it is refused: unreadable, too far in the future, or older than `maxAgeDays`. */
function timestampProblem(value: unknown, now: number, maxAgeDays: number): number | FieldProblem {
  const ms = parseTimestamp(value);
  if (ms === null) {
    return { path: "timestamp", message: "must be an ISO-8601 string or non-negative epoch milliseconds" };
  }
  if (ms > now + MAX_FUTURE_SKEW_MS) return { path: "timestamp", message: "is more than 5 minutes in the future" };
  if (ms < now - maxAgeDays * DAY_MS) {
    return { path: "timestamp", message: `is more than ${maxAgeDays} days in the past (EVENT_MAX_AGE_DAYS)` };
  }
  return ms;
}

/**
 * Validates one raw event and settles its id and timestamps: the one validator of every ingestion route (events,
 * batch items, pixel, beacon) and of the dashboard's form. `mintId` supplies an id when the client sent none; `now`
 * is the receive time in epoch ms; `limits` says what the store keeps (nested arrays, see `StoreLimits`). An event is
 * refused rather than stored altered. A timestamp more than `maxAgeDays` before `now` is refused too: a clock
 * that far off (1970, a year typed wrong) would rank the event below everything the lead did.
 */
export function normalizeEvent(
  raw: unknown,
  now: number,
  mintId: () => string,
  limits: StoreLimits = STORE_LIMITS,
  maxAgeDays: number = DEFAULT_EVENT_MAX_AGE_DAYS,
): NormalizeResult {
  const parsed = EventInputSchema.safeParse(raw);
  // Every problem is reported in one round: a field the schema passed is still judged on its own (the time window,
  // what the store keeps) when another field failed.
  const details: FieldProblem[] = parsed.success
    ? []
    : parsed.error.issues.map((issue) => ({
        path: issuePath(issue.path),
        message: issue.code === "unrecognized_keys" ? `unknown field(s): ${issue.keys.join(", ")}` : issue.message,
      }));
  const failed = (field: string) => details.some(({ path }) => path === field || path.startsWith(`${field}.`));
  const fields: { timestamp?: unknown; metadata?: unknown } = parsed.success
    ? parsed.data
    : typeof raw === "object" && raw !== null
      ? (raw as Record<string, unknown>)
      : {};
  let timestamp = now;
  if (fields.timestamp !== undefined && !failed("timestamp")) {
    const judged = timestampProblem(fields.timestamp, now, maxAgeDays);
    if (typeof judged === "number") timestamp = judged;
    else details.push(judged);
  }
  if (fields.metadata !== undefined && !failed("metadata")) {
    const unstorable = unstorableProblem(fields.metadata, limits, ["metadata"]);
    if (unstorable) details.push({ path: issuePath(unstorable.path), message: unstorable.message });
  }
  if (!parsed.success || details.length > 0) return { ok: false, details };
  const input = parsed.data;
  return {
    ok: true,
    event: {
      event_id: input.event_id ?? mintId(),
      lead_id: input.lead_id,
      event_type: input.event_type,
      timestamp,
      received_at: now,
      metadata: input.metadata ?? {},
    },
  };
}
