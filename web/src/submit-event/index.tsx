import type { Ref } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { leadHref } from "../app/router.ts";
import { FieldError, FormErrors, PageTitle } from "../app/ui.tsx";
import { formatSigned } from "../lib/format.ts";
import { DEV_WRITE_KEY_HINT, type EventField, type EventForm, OTHER_TYPE, type SubmitEventModel } from "./model.ts";

function describedBy(field: EventField, hasError: boolean, hint = false): string | undefined {
  const ids = [hint ? `${field}-hint` : "", hasError ? `${field}-error` : ""].filter(Boolean);
  return ids.length > 0 ? ids.join(" ") : undefined;
}

/** Props of a text field bound to the form: value, input handler and its error and hint for assistive technology. */
function inputProps(model: SubmitEventModel, key: keyof EventForm & EventField, hint = false) {
  const errors = model.errors.value;
  return {
    id: key,
    name: key,
    value: model.form.value[key],
    onInput: (event: Event) => model.set(key, (event.currentTarget as HTMLInputElement).value),
    "aria-invalid": errors.fields[key] ? true : undefined,
    "aria-describedby": describedBy(key, !!errors.fields[key], hint),
  };
}

/**
 * Moves to the first field in error, in the form's order, once the page shows it (an optional field's section has
 * just been opened), so keyboard and screen-reader users land where the problem is; the summary when no field is.
 */
function focusFirstError(model: SubmitEventModel, summary: { readonly current: HTMLElement | null }) {
  const first = model.firstError.value;
  requestAnimationFrame(() => {
    const target = first
      ? document.getElementById(
          first === "event_type" && model.form.value.event_type === OTHER_TYPE ? "other_type" : first,
        )
      : null;
    (target ?? summary.current)?.focus();
  });
}

/** The form's errors and the outcome of the last send, announced as they change. */
function SubmitStatus({ model, statusRef }: { model: SubmitEventModel; statusRef: Ref<HTMLDivElement> }) {
  const result = model.result.value;
  return (
    <div ref={statusRef} tabIndex={-1} id="submit-status" class="form-status" aria-live="polite">
      <FormErrors messages={model.errors.value.form} />
      {result ? (
        <div class="alert alert-success">
          <p>
            {result.duplicate ? "Already received (duplicate, not counted again): " : "Accepted: "}
            <code>{result.event_type}</code> for <a href={leadHref(result.lead_id)}>{result.lead_id}</a>, event id{" "}
            <code>{result.event_id}</code>. It is scored within moments.
          </p>
        </div>
      ) : null}
    </div>
  );
}

/** The event type: one of the scoring types, or another typed by hand. */
function EventTypeField({ model }: { model: SubmitEventModel }) {
  const form = model.form.value;
  const errors = model.errors.value;
  return (
    <div class="field">
      <label for="event_type">Event type</label>
      <select
        id="event_type"
        name="event_type"
        value={form.event_type}
        onChange={(event) => model.set("event_type", (event.currentTarget as HTMLSelectElement).value)}
        aria-invalid={errors.fields.event_type && form.event_type !== OTHER_TYPE ? true : undefined}
        aria-describedby={describedBy("event_type", !!errors.fields.event_type)}
      >
        {model.typesStatus.value === "loading" ? <option value="">Loading types…</option> : null}
        {model.eventTypes.value.map((type) => (
          <option key={type.value} value={type.value}>
            {type.label} ({formatSigned(type.points)})
          </option>
        ))}
        <option value={OTHER_TYPE}>Other type…</option>
      </select>
      {model.typesStatus.value === "error" ? (
        <p class="hint">The list of types could not be loaded ({model.typesError.value}); type one below.</p>
      ) : null}
      {form.event_type === OTHER_TYPE ? (
        <div class="field field-nested">
          <label for="other_type">Type name</label>
          <input
            id="other_type"
            name="other_type"
            type="text"
            autoComplete="off"
            spellcheck={false}
            value={form.other_type}
            onInput={(event) => model.set("other_type", (event.currentTarget as HTMLInputElement).value)}
            aria-invalid={errors.fields.event_type ? true : undefined}
            aria-describedby={describedBy("event_type", !!errors.fields.event_type)}
          />
          <p class="hint">A type without an active rule is recorded and scores 0.</p>
        </div>
      ) : null}
      <FieldError id="event_type-error" message={errors.fields.event_type} />
    </div>
  );
}

/** Event id, time and metadata, folded away until needed. */
function OptionalFields({ model }: { model: SubmitEventModel }) {
  const errors = model.errors.value;
  return (
    <details
      class="more-fields"
      open={model.moreOpen.value}
      onToggle={(event) => model.setMoreOpen((event.currentTarget as HTMLDetailsElement).open)}
    >
      <summary>Optional fields</summary>
      <div class="field">
        <label for="event_id">Event id</label>
        <input type="text" autoComplete="off" spellcheck={false} {...inputProps(model, "event_id", true)} />
        <p id="event_id-hint" class="hint">
          Idempotency key: the same id is counted once. Empty: the server makes one.
        </p>
        <FieldError id="event_id-error" message={errors.fields.event_id} />
      </div>
      <div class="field">
        <label for="timestamp">Event time</label>
        <input type="datetime-local" step={1} {...inputProps(model, "timestamp", true)} />
        <p id="timestamp-hint" class="hint">
          Your local time. Empty: now. Earlier than the lead's newest event: it is slotted into place.
        </p>
        <FieldError id="timestamp-error" message={errors.fields.timestamp} />
      </div>
      <div class="field">
        <label for="metadata">Metadata (JSON object)</label>
        <textarea
          rows={3}
          spellcheck={false}
          {...inputProps(model, "metadata", true)}
          onInput={(event) => model.set("metadata", (event.currentTarget as HTMLTextAreaElement).value)}
        />
        <p id="metadata-hint" class="hint">
          For example <code>{'{"page": "/pricing"}'}</code>. Empty: none.
        </p>
        <FieldError id="metadata-error" message={errors.fields.metadata} />
      </div>
    </details>
  );
}

/** The write key the event is sent with, kept for the tab. */
function WriteKeyField({ model }: { model: SubmitEventModel }) {
  const error = model.errors.value.fields.write_key;
  return (
    <div class="field">
      <label for="write_key">Write key</label>
      <input
        id="write_key"
        name="write_key"
        type="password"
        autoComplete="off"
        value={model.writeKey.value}
        onInput={(event) => model.setWriteKey((event.currentTarget as HTMLInputElement).value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy("write_key", !!error, true)}
      />
      <p id="write_key-hint" class="hint">
        Kept for this tab only. In development it is <code>{DEV_WRITE_KEY_HINT}</code>.
      </p>
      <FieldError id="write_key-error" message={error} />
    </div>
  );
}

export function SubmitEventPage({ model }: { model: SubmitEventModel }) {
  useEffect(() => {
    if (model.typesStatus.value !== "ready") void model.loadTypes();
  }, [model]);
  const summary = useRef<HTMLDivElement>(null);

  const onSubmit = async (event: Event) => {
    event.preventDefault();
    await model.submit();
    if (model.hasErrors.value) focusFirstError(model, summary);
  };

  return (
    <>
      <PageTitle title="Submit event">Submit an event</PageTitle>
      <p class="lede">
        Sends one event to <code>POST /api/events</code>, as a tracking snippet or server would. The lead is created by
        its first event.
      </p>
      <form class="panel form" noValidate onSubmit={onSubmit} aria-describedby="submit-status">
        <SubmitStatus model={model} statusRef={summary} />

        <div class="field">
          <label for="lead_id">Lead id</label>
          <input type="text" autoComplete="off" spellcheck={false} {...inputProps(model, "lead_id", true)} />
          <p id="lead_id-hint" class="hint">
            Letters, digits and <code>. _ : -</code>, up to 128.
          </p>
          <FieldError id="lead_id-error" message={model.errors.value.fields.lead_id} />
        </div>

        <EventTypeField model={model} />
        <OptionalFields model={model} />
        <WriteKeyField model={model} />

        <div class="form-actions">
          <button type="submit" class="button button-primary" disabled={model.submitting.value}>
            {model.submitting.value ? "Sending…" : "Send event"}
          </button>
        </div>
      </form>
    </>
  );
}
