// The rule tester: an event (type, metadata as JSON) and optionally its lead's profile, sent to the edge, which says
// which rules match with their points and why every other rule does not. Nothing is scored or stored.
import { batch, createModel, type ReadonlySignal, signal } from "@preact/signals";
import { type Api, ApiRequestError, type FieldDetail, type RuleTestRequest, type RuleTestResult } from "../lib/api.ts";
import { placeErrors } from "../lib/form-errors.ts";
import { ADMIN_NEEDED, type FormErrors } from "../rule-editor/model.ts";

export interface TestForm {
  event_type: string;
  /** A JSON object, or empty for none. */
  metadata: string;
  email: string;
  company: string;
  name: string;
}
const EMPTY_TEST: TestForm = { event_type: "", metadata: "", email: "", company: "", name: "" };
const NO_ERRORS: FormErrors = { at: {}, form: [] };
/** Where the tester shows the edge's problems: the request's paths. */
export const TEST_PLACES = ["event.event_type", "event.metadata", "lead.email", "lead.company", "lead.name"];

/** The request the form makes, or the problems that keep it from being sent. */
export function testRequest(
  form: TestForm,
): { ok: true; request: RuleTestRequest } | { ok: false; problems: FieldDetail[] } {
  const problems: FieldDetail[] = [];
  const eventType = form.event_type.trim();
  if (eventType === "") problems.push({ path: "event.event_type", message: "Enter the event type to test" });
  let metadata: Record<string, unknown> | undefined;
  if (form.metadata.trim() !== "") {
    try {
      const parsed: unknown = JSON.parse(form.metadata);
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        problems.push({ path: "event.metadata", message: 'must be a JSON object, e.g. { "path": "/pricing" }' });
      } else metadata = parsed as Record<string, unknown>;
    } catch (failure) {
      problems.push({ path: "event.metadata", message: `is not valid JSON (${(failure as Error).message})` });
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  const lead: NonNullable<RuleTestRequest["lead"]> = {};
  for (const key of ["email", "company", "name"] as const) {
    const value = form[key].trim();
    if (value) lead[key] = value;
  }
  return {
    ok: true,
    request: {
      event: { event_type: eventType, ...(metadata ? { metadata } : {}) },
      ...(Object.keys(lead).length > 0 ? { lead } : {}),
    },
  };
}

export const RuleTesterModel = createModel((deps: { api: Pick<Api, "testRules">; token: ReadonlySignal<string> }) => {
  const form = signal<TestForm>({ ...EMPTY_TEST }, { name: "tester.form" });
  const errors = signal<FormErrors>(NO_ERRORS, { name: "tester.errors" });
  const running = signal(false, { name: "tester.running" });
  const result = signal<RuleTestResult | null>(null, { name: "tester.result" });
  let sequence = 0;

  return {
    form,
    errors,
    running,
    result,
    set<K extends keyof TestForm>(key: K, value: TestForm[K]) {
      form.value = { ...form.value, [key]: value };
      const path = key === "event_type" || key === "metadata" ? `event.${key}` : `lead.${key}`;
      if (path in errors.value.at) {
        const { [path]: _, ...rest } = errors.value.at;
        errors.value = { ...errors.value, at: rest };
      }
    },
    async run() {
      const built = testRequest(form.value);
      if (!built.ok) {
        errors.value = placeErrors(built.problems, TEST_PLACES);
        return;
      }
      const token = deps.token.value.trim();
      if (!token) {
        errors.value = { at: {}, form: [ADMIN_NEEDED.replace("change", "test")] };
        return;
      }
      const mine = ++sequence;
      running.value = true;
      try {
        const answer = await deps.api.testRules(built.request, token);
        if (mine !== sequence) return;
        batch(() => {
          result.value = answer;
          errors.value = NO_ERRORS;
        });
      } catch (failure) {
        if (mine !== sequence) return;
        batch(() => {
          result.value = null;
          errors.value =
            failure instanceof ApiRequestError && failure.details.length > 0
              ? placeErrors(failure.details, TEST_PLACES)
              : { at: {}, form: [(failure as Error).message] };
        });
      } finally {
        if (mine === sequence) running.value = false;
      }
    },
  };
});
export type RuleTesterModel = InstanceType<typeof RuleTesterModel>;
