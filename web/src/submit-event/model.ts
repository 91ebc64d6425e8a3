// The event form: its choices come from the server's event types, it posts with the write key typed once per tab,
// and it checks the event with the edge's own validation (`normalizeEvent` from the shared contracts) before sending,
// so every problem shows at once, next to its field; the API's answer is shown the same way.
import type { normalizeEvent } from "@leadscore/contracts/event";
import { batch, computed, createModel, type Signal, signal } from "@preact/signals";
import { type Api, ApiRequestError, type EventAccepted, type EventSubmission, type EventType } from "../lib/api.ts";
import { type MappedErrors, mapFieldErrors } from "../lib/form-errors.ts";

export const EVENT_FIELDS = ["lead_id", "event_type", "event_id", "timestamp", "metadata", "write_key"] as const;
export type EventField = (typeof EVENT_FIELDS)[number];
/** The select's value for a type typed by hand. */
export const OTHER_TYPE = "__other__";
export const DEV_WRITE_KEY_HINT = "dev-write-key";

export interface EventForm {
  lead_id: string;
  event_type: string;
  other_type: string;
  event_id: string;
  /** `datetime-local` value (the browser's time zone), or empty for "now". */
  timestamp: string;
  metadata: string;
}

export const EMPTY_EVENT_FORM: EventForm = {
  lead_id: "",
  event_type: "",
  other_type: "",
  event_id: "",
  timestamp: "",
  metadata: "",
};

export type Normalize = typeof normalizeEvent;

/**
 * The edge's validation, loaded with the form rather than with the app: it brings zod, which the other pages do not
 * need, and the first-load budget is for them.
 */
let validation: Promise<Normalize> | null = null;
export function loadValidation(): Promise<Normalize> {
  validation ??= import("@leadscore/contracts/event").then(
    (module) => module.normalizeEvent,
    (failure: unknown) => {
      // Not kept: the next submit loads it again rather than failing on the load the form started with.
      validation = null;
      throw failure;
    },
  );
  return validation;
}

/** The request body for the form's values, or the problems that stop it from being sent at all. */
export function buildSubmission(
  form: EventForm,
  normalize: Normalize,
): { ok: true; event: EventSubmission } | { ok: false; errors: MappedErrors<EventField> } {
  const event: EventSubmission = {
    lead_id: form.lead_id.trim(),
    event_type: form.event_type === OTHER_TYPE ? form.other_type.trim() : form.event_type,
  };
  const fields: Partial<Record<EventField, string>> = {};
  if (form.event_id.trim()) event.event_id = form.event_id.trim();
  if (form.timestamp) {
    const date = new Date(form.timestamp);
    if (Number.isNaN(date.getTime())) fields.timestamp = "Enter a date and time";
    else event.timestamp = date.toISOString();
  }
  if (form.metadata.trim()) {
    try {
      const parsed: unknown = JSON.parse(form.metadata);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        fields.metadata = 'Must be a JSON object, e.g. {"plan": "pro"}';
      } else {
        event.metadata = parsed as Record<string, unknown>;
      }
    } catch {
      fields.metadata = 'Is not valid JSON; expected an object, e.g. {"plan": "pro"}';
    }
  }
  // The rest (ids, type format, time skew, metadata rules) is judged by the edge's own validation, run here too, so
  // the form and the API cannot disagree and every problem shows in one round.
  const checked = normalize(event, Date.now(), () => "checked-in-the-browser");
  const mapped = checked.ok ? { fields: {}, form: [] } : mapFieldErrors(checked.details, EVENT_FIELDS);
  const all = { fields: { ...mapped.fields, ...fields }, form: mapped.form };
  if (Object.keys(all.fields).length > 0 || all.form.length > 0) return { ok: false, errors: all };
  return { ok: true, event };
}

/** Errors of a refused request, by field. */
export function submissionErrors(failure: unknown): MappedErrors<EventField> {
  if (!(failure instanceof ApiRequestError)) return { fields: {}, form: [(failure as Error).message] };
  if (failure.status === 401 || failure.status === 403) {
    return { fields: { write_key: `${failure.message} — check the write key` }, form: [] };
  }
  const mapped = mapFieldErrors(failure.details, EVENT_FIELDS);
  if (failure.details.length === 0) mapped.form.push(failure.message);
  else if (Object.keys(mapped.fields).length > 0 && mapped.form.length === 0) {
    mapped.form.push("The event was not accepted; see the fields marked below.");
  }
  return mapped;
}

/** The event form. */
export const SubmitEventModel = createModel(
  (deps: { api: Pick<Api, "eventTypes" | "submitEvent">; writeKey: Signal<string> }) => {
    const form = signal<EventForm>({ ...EMPTY_EVENT_FORM }, { name: "submit.form" });
    const eventTypes = signal<EventType[]>([], { name: "submit.eventTypes" });
    const typesStatus = signal<"loading" | "ready" | "error">("loading", { name: "submit.typesStatus" });
    const typesError = signal<string | null>(null, { name: "submit.typesError" });
    const submitting = signal(false, { name: "submit.submitting" });
    const errors = signal<MappedErrors<EventField>>({ fields: {}, form: [] }, { name: "submit.errors" });
    const result = signal<(EventAccepted & { lead_id: string; event_type: string }) | null>(null, {
      name: "submit.result",
    });
    const moreOpen = signal(false, { name: "submit.moreOpen" });

    function showErrors(found: MappedErrors<EventField>) {
      batch(() => {
        errors.value = found;
        if (found.fields.event_id || found.fields.timestamp || found.fields.metadata) moreOpen.value = true;
      });
    }

    function clearError(field: EventField) {
      if (!(field in errors.value.fields)) return;
      const { [field]: _, ...rest } = errors.value.fields;
      errors.value = { ...errors.value, fields: rest };
    }

    return {
      form,
      writeKey: deps.writeKey,
      eventTypes,
      typesStatus,
      typesError,
      submitting,
      errors,
      result,
      hasErrors: computed(() => errors.value.form.length > 0 || Object.keys(errors.value.fields).length > 0),
      /** Whether the optional fields are shown: the user's choice, opened (never closed) when one of them is in error. */
      moreOpen,
      /** The first field in error, in the form's order. */
      firstError: computed(() => EVENT_FIELDS.find((field) => errors.value.fields[field]) ?? null),
      setMoreOpen(open: boolean) {
        moreOpen.value = open;
      },
      set<K extends keyof EventForm>(key: K, value: EventForm[K]) {
        form.value = { ...form.value, [key]: value };
        // A corrected field stops showing the error it had.
        clearError(key === "other_type" ? "event_type" : key);
      },
      setWriteKey(value: string) {
        deps.writeKey.value = value;
        clearError("write_key");
      },
      async loadTypes() {
        typesStatus.value = "loading";
        loadValidation().catch(() => {
          // Loaded again on submit, where a failure is shown.
        });
        try {
          const types = await deps.api.eventTypes();
          batch(() => {
            eventTypes.value = types;
            typesStatus.value = "ready";
            typesError.value = null;
            if (form.value.event_type === "" && types[0]) form.value = { ...form.value, event_type: types[0].value };
          });
        } catch (failure) {
          batch(() => {
            typesStatus.value = "error";
            typesError.value = (failure as Error).message;
            // The form still works with a type typed by hand.
            if (form.value.event_type === "") form.value = { ...form.value, event_type: OTHER_TYPE };
          });
        }
      },
      async submit() {
        if (submitting.value) return;
        result.value = null;
        const key = deps.writeKey.value.trim();
        let normalize: Normalize;
        try {
          normalize = await loadValidation();
        } catch (failure) {
          showErrors({
            fields: {},
            form: [`The form could not be checked (${(failure as Error).message}); try again.`],
          });
          return;
        }
        const built = buildSubmission(form.value, normalize);
        const problems: MappedErrors<EventField> = built.ok ? { fields: {}, form: [] } : built.errors;
        if (!key) problems.fields.write_key = "Enter a write key";
        if (!built.ok || !key) {
          showErrors(problems);
          return;
        }
        submitting.value = true;
        errors.value = { fields: {}, form: [] };
        try {
          const accepted = await deps.api.submitEvent(built.event, key);
          batch(() => {
            result.value = { ...accepted, lead_id: built.event.lead_id, event_type: built.event.event_type };
            // A new event next time: a kept id would only be reported as a duplicate.
            form.value = { ...form.value, event_id: "" };
          });
        } catch (failure) {
          showErrors(submissionErrors(failure));
        } finally {
          submitting.value = false;
        }
      },
    };
  },
);
export type SubmitEventModel = InstanceType<typeof SubmitEventModel>;
