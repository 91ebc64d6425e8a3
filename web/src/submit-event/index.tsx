import { useEffect, useRef } from "preact/hooks";
import { leadHref } from "../app/router.ts";
import { FieldError, FormErrors, PageTitle } from "../app/ui.tsx";
import { formatSigned } from "../lib/format.ts";
import { DEV_WRITE_KEY_HINT, type EventField, type EventForm, OTHER_TYPE, type SubmitEventModel } from "./model.ts";

function describedBy(field: EventField, hasError: boolean, hint = false): string | undefined {
  const ids = [hint ? `${field}-hint` : "", hasError ? `${field}-error` : ""].filter(Boolean);
  return ids.length > 0 ? ids.join(" ") : undefined;
}

export function SubmitEventPage({ model }: { model: SubmitEventModel }) {
  useEffect(() => {
    if (model.typesStatus.value !== "ready") void model.loadTypes();
  }, [model]);
  const summary = useRef<HTMLDivElement>(null);
  const form = model.form.value;
  const errors = model.errors.value;
  const result = model.result.value;
  const types = model.eventTypes.value;

  const input = (key: keyof EventForm & EventField, hint = false) => ({
    id: key,
    name: key,
    value: form[key],
    onInput: (event: Event) => model.set(key, (event.currentTarget as HTMLInputElement).value),
    "aria-invalid": errors.fields[key] ? true : undefined,
    "aria-describedby": describedBy(key, !!errors.fields[key], hint),
  });

  const onSubmit = async (event: Event) => {
    event.preventDefault();
    await model.submit();
    if (model.hasErrors.value) {
      // Move to the first field in error, in the form's order, once the page shows it (an optional field's section
      // has just been opened), so keyboard and screen-reader users land where the problem is.
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
  };

  return (
    <>
      <PageTitle title="Submit event">Submit an event</PageTitle>
      <p class="lede">
        Sends one event to <code>POST /api/events</code>, as a tracking snippet or server would. The lead is created by
        its first event.
      </p>
      <form class="panel form" noValidate onSubmit={onSubmit} aria-describedby="submit-status">
        <div ref={summary} tabIndex={-1} id="submit-status" class="form-status" aria-live="polite">
          <FormErrors messages={errors.form} />
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

        <div class="field">
          <label for="lead_id">Lead id</label>
          <input type="text" autoComplete="off" spellcheck={false} {...input("lead_id", true)} />
          <p id="lead_id-hint" class="hint">
            Letters, digits and <code>. _ : -</code>, up to 128.
          </p>
          <FieldError id="lead_id-error" message={errors.fields.lead_id} />
        </div>

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
            {types.map((type) => (
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

        <details
          class="more-fields"
          open={model.moreOpen.value}
          onToggle={(event) => model.setMoreOpen((event.currentTarget as HTMLDetailsElement).open)}
        >
          <summary>Optional fields</summary>
          <div class="field">
            <label for="event_id">Event id</label>
            <input type="text" autoComplete="off" spellcheck={false} {...input("event_id", true)} />
            <p id="event_id-hint" class="hint">
              Idempotency key: the same id is counted once. Empty: the server makes one.
            </p>
            <FieldError id="event_id-error" message={errors.fields.event_id} />
          </div>
          <div class="field">
            <label for="timestamp">Event time</label>
            <input type="datetime-local" step={1} {...input("timestamp", true)} />
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
              {...input("metadata", true)}
              onInput={(event) => model.set("metadata", (event.currentTarget as HTMLTextAreaElement).value)}
            />
            <p id="metadata-hint" class="hint">
              For example <code>{'{"page": "/pricing"}'}</code>. Empty: none.
            </p>
            <FieldError id="metadata-error" message={errors.fields.metadata} />
          </div>
        </details>

        <div class="field">
          <label for="write_key">Write key</label>
          <input
            id="write_key"
            name="write_key"
            type="password"
            autoComplete="off"
            value={model.writeKey.value}
            onInput={(event) => model.setWriteKey((event.currentTarget as HTMLInputElement).value)}
            aria-invalid={errors.fields.write_key ? true : undefined}
            aria-describedby={describedBy("write_key", !!errors.fields.write_key, true)}
          />
          <p id="write_key-hint" class="hint">
            Kept for this tab only. In development it is <code>{DEV_WRITE_KEY_HINT}</code>.
          </p>
          <FieldError id="write_key-error" message={errors.fields.write_key} />
        </div>

        <div class="form-actions">
          <button type="submit" class="button button-primary" disabled={model.submitting.value}>
            {model.submitting.value ? "Sending…" : "Send event"}
          </button>
        </div>
      </form>
    </>
  );
}
