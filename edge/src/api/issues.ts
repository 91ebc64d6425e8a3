import type { z } from "zod";
import type { ErrorDetail } from "../errors.ts";

/**
 * Turns zod issues into the API's `details`: one entry per field (its first problem, so `2.5e20` reads as "must be
 * an integer" rather than also "must be at most …"); unknown keys get one entry each.
 */
export function issueDetails(issues: readonly z.core.$ZodIssue[], unknownMessage: string): ErrorDetail[] {
  const details = new Map<string, string>();
  for (const issue of issues) {
    const prefix = issue.path.map((part) => String(part)).join(".");
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const path = prefix ? `${prefix}.${key}` : key;
        if (!details.has(path)) details.set(path, unknownMessage);
      }
    } else if (!details.has(prefix || "(body)")) {
      details.set(prefix || "(body)", issue.message);
    }
  }
  return [...details].map(([path, message]) => ({ path, message }));
}
