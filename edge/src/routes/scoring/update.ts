import { liveKeys, rekeyScoreIndex } from "@leadscore/live";
import {
  createLock,
  mirrorScoringSettings,
  partitionPrefixes,
  readScoringSettings,
  scoringChannel,
  writeScoringSettings,
} from "@leadscore/runtime";
import { Hono } from "hono";
import { z } from "zod";
import { parseJsonBody } from "../../api/body.ts";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { ScoringReadSchema, ScoringSettingsBodySchema } from "./settings.ts";

/** How long one change may hold the settings lock between renewals. */
const LOCK_TTL_MS = 30_000;

export const ScoringChangeSchema = ScoringReadSchema.extend({
  rekeyed_leads: z.number().int().describe("Leads the change re-keyed in the score index (0 when nothing changed)."),
  rekey_ms: z.number().describe("How long the re-key took."),
}).meta({ id: "ScoringSettingsChanged" });

export const updateScoringDoc: RouteDoc = {
  method: "put",
  path: "/api/scoring",
  operationId: "updateScoringSettings",
  summary: "Set the score's half-life",
  description:
    "Stores the setting, tells every worker and edge (they reload within a second, as after a rule change), then " +
    "re-keys the score index online — every lead's key and stage recomputed from its score and last event time, a " +
    "chunk of leads per script call, commits going on meanwhile — and answers when done. Until then reads may mix " +
    "the two keyings. Scores already folded are kept: decay with the new half-life runs from each lead's last event " +
    "(a rebuild folds the whole history with the half-life in force). One change at a time (409 while another runs).",
  tag: "Rules",
  auth: "admin",
  body: { schema: ScoringSettingsBodySchema },
  responses: { 200: { description: "The settings now in force, and the re-key.", schema: ScoringChangeSchema } },
  errors: ["CONFLICT", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "SERVICE_UNAVAILABLE"],
};

export function updateScoringRoute(deps: AppDeps) {
  return new Hono().put("/", requireAdmin(deps.config.ADMIN_TOKEN), async (c) => {
    const { stage_thresholds: thresholds, ...body } = await parseJsonBody(
      c,
      ScoringSettingsBodySchema,
      deps.config.BODY_READ_TIMEOUT_MS,
    );
    const { config } = deps;
    if (thresholds?.some((threshold, i) => threshold !== config.STAGE_THRESHOLDS[i])) {
      const message = `is set by STAGE_THRESHOLDS (${config.STAGE_THRESHOLDS.join(",")}), not here`;
      throw new ApiError("VALIDATION_FAILED", `stage_thresholds ${message}`, [{ path: "stage_thresholds", message }]);
    }
    const lock = createLock({ redis: deps.redis, key: `${config.REDIS_PREFIX}:scoring-lock`, ttlMs: LOCK_TTL_MS });
    const changed = await lock.withLock(async () => {
      const now = deps.now ?? Date.now;
      const before = await readScoringSettings(deps.db);
      if (before.half_life_seconds === body.half_life_seconds) return { ...before, rekeyed_leads: 0, rekey_ms: 0 };
      await writeScoringSettings(deps.db, body, new Date(now()));
      await mirrorScoringSettings(deps.redis, config.REDIS_PREFIX, body);
      await deps.redis.publish(scoringChannel(config.REDIS_PREFIX), JSON.stringify(body)).catch((error: Error) => {
        deps.log.warn("scoring settings change not announced", { error: error.message });
      });
      await deps.scoring?.reload();
      const started = performance.now();
      // Every lead partition's score index, one after the other (each in its own slot).
      const layouts =
        config.LEAD_PARTITIONS > 1
          ? partitionPrefixes(config.REDIS_PREFIX, config.LEAD_PARTITIONS).map((prefix) => liveKeys(prefix))
          : [deps.live.keys];
      let leads = 0;
      for (const keys of layouts) {
        const rekeyed = await rekeyScoreIndex({
          redis: deps.redis,
          keys,
          cap: config.SCORE_CAP,
          thresholds: config.STAGE_THRESHOLDS,
          halfLifeSeconds: body.half_life_seconds,
          now,
        });
        leads += rekeyed.leads;
      }
      const ms = Math.round((performance.now() - started) * 10) / 10;
      deps.log.info("score index re-keyed", { half_life_seconds: body.half_life_seconds, leads, ms });
      return { half_life_seconds: body.half_life_seconds, rekeyed_leads: leads, rekey_ms: ms };
    });
    if (changed === null) throw new ApiError("CONFLICT", "another change of the scoring settings is under way");
    return c.json({ ...changed, stage_thresholds: config.STAGE_THRESHOLDS });
  });
}
