import { z } from "zod";

/** The longest half-life taken: a century, in seconds (a score that halves once in a lifetime does not decay). */
export const MAX_HALF_LIFE_SECONDS = 100 * 365 * 86_400;

export const ScoringSettingsSchema = z
  .object({
    half_life_seconds: z
      .number()
      .min(1)
      .max(MAX_HALF_LIFE_SECONDS)
      .nullable()
      .describe(
        "Seconds for a score to halve between events (`s(t) = s_i · 2^(−(t − t_i)/H)`); null: scores do not decay.",
      ),
  })
  .meta({ id: "ScoringSettings" });

const StageThresholdsSchema = z
  .tuple([z.number(), z.number(), z.number()])
  .describe("Lower bounds of warm, hot and qualified (`STAGE_THRESHOLDS`): a score at or above one is in its stage.");

export const ScoringSettingsBodySchema = z
  .strictObject(
    {
      half_life_seconds: ScoringSettingsSchema.shape.half_life_seconds,
      stage_thresholds: StageThresholdsSchema.optional().describe(
        "Read-only (set by `STAGE_THRESHOLDS`): taken when equal to the thresholds in force, so a read can be sent back.",
      ),
    },
    { error: "must be a JSON object" },
  )
  .meta({ id: "ScoringSettingsChange" });

/** `GET /api/scoring`: the settings, with the stage thresholds a client needs to stage a score it decays itself. */
export const ScoringReadSchema = ScoringSettingsSchema.extend({
  stage_thresholds: StageThresholdsSchema,
}).meta({ id: "ScoringRead" });
