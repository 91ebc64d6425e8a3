import { z } from "zod";

/** How every score the API returns reads (docs/api.md, "Scores"). */
export const SCORE_ROUNDING =
  "A whole number without decay; with a half-life (`GET /api/scoring`) a real number, returned exactly: stages, " +
  "filters and thresholds compare that exact value, and a display shows it rounded down to a whole point (299.6 " +
  "is warm and shows as 299), as the dashboard does.";

/** A score, or points given out of one, as the API returns it: see `SCORE_ROUNDING`. */
export const scoreNumber = (description: string) => z.number().describe(`${description} ${SCORE_ROUNDING}`);
