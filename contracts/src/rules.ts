import { z } from "zod";
import { EventTypeSchema } from "./event.ts";

export const POINTS_MIN = -1000;
export const POINTS_MAX = 1000;

export const PointsSchema = z
  .number({ error: "must be a number" })
  .int({ error: "must be an integer" })
  .min(POINTS_MIN, { error: `must be at least ${POINTS_MIN}` })
  .max(POINTS_MAX, { error: `must be at most ${POINTS_MAX}` });

export const RuleSchema = z.object({
  _id: z.string(),
  event_type: EventTypeSchema,
  points: PointsSchema,
  active: z.boolean(),
  label: z.string(),
});
export type Rule = z.infer<typeof RuleSchema>;

/** Rules seeded on first start; their ids are their event types so seeding twice changes nothing. */
export const DEFAULT_RULES: readonly Rule[] = [
  { _id: "email_open", event_type: "email_open", points: 10, active: true, label: "Email Open" },
  { _id: "page_view", event_type: "page_view", points: 5, active: true, label: "Page View" },
  { _id: "form_submission", event_type: "form_submission", points: 20, active: true, label: "Form Submission" },
  { _id: "demo_request", event_type: "demo_request", points: 50, active: true, label: "Demo Request" },
  { _id: "purchase", event_type: "purchase", points: 100, active: true, label: "Purchase" },
];
