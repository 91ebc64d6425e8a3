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

export const ScoringSettingsBodySchema = z
  .strictObject(
    { half_life_seconds: ScoringSettingsSchema.shape.half_life_seconds },
    { error: "must be a JSON object" },
  )
  .meta({ id: "ScoringSettingsChange" });
