import { FieldError, FormErrors } from "../app/ui.tsx";
import type { RuleTestResult } from "../lib/api.ts";
import { formatSigned } from "../lib/format.ts";
import { describeLimit } from "../rule-editor/conditions.ts";
import type { RuleTesterModel, TestForm } from "./model.ts";

const PATHS: Record<keyof TestForm, string> = {
  event_type: "event.event_type",
  metadata: "event.metadata",
  email: "lead.email",
  company: "lead.company",
  name: "lead.name",
};

function Result({ result }: { result: RuleTestResult }) {
  return (
    <div class="test-result" data-testid="test-result" aria-live="polite">
      <p>
        <strong>{formatSigned(result.points)}</strong> from {result.matched.length} matching rule
        {result.matched.length === 1 ? "" : "s"} <span class="muted">(rules version {result.rules_version})</span>
      </p>
      {result.matched.length === 0 ? <p>{result.reason ?? "No rule matches"}: the event would score 0.</p> : null}
      {result.matched.length > 0 ? (
        <ul class="test-matched" aria-label="Matching rules">
          {result.matched.map((rule) => (
            <li key={rule.rule_id}>
              <strong>{rule.label}</strong> {formatSigned(rule.points)}
              {rule.limit ? <span class="muted"> · {describeLimit(rule.limit)}</span> : null}
              {rule.group ? (
                <span class="muted">
                  {" "}
                  · group {typeof rule.group === "string" ? rule.group : `${rule.group.id} (max ${rule.group.max})`}
                </span>
              ) : null}
            </li>
          ))}
        </ul>
      ) : null}
      {result.missed.length > 0 ? (
        <>
          <h3>Other rules</h3>
          <ul class="test-missed" aria-label="Rules that do not match">
            {result.missed.map((rule) => (
              <li key={rule.rule_id}>
                <strong>{rule.label}</strong>: <span class="muted">{rule.reason}</span>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      <p class="muted">Limits and groups are applied when events are scored, in event-time order.</p>
    </div>
  );
}

/** The test box: an event (and a profile) in, which rules match and why the others do not out. */
export function RuleTester({ model, eventTypes }: { model: RuleTesterModel; eventTypes: readonly string[] }) {
  const form = model.form.value;
  const errors = model.errors.value;
  const field = (key: keyof TestForm) => {
    const message = errors.at[PATHS[key]];
    return {
      props: {
        id: `test-${key}`,
        value: form[key],
        onInput: (event: Event) => model.set(key, (event.currentTarget as HTMLInputElement).value),
        "aria-invalid": message ? true : undefined,
        "aria-describedby": message ? `test-${key}-error` : undefined,
      },
      message,
    };
  };
  const type = field("event_type");
  const metadata = field("metadata");
  const profile = (["email", "company", "name"] as const).map((key) => ({ key, ...field(key) }));
  return (
    <form
      class="panel form"
      noValidate
      aria-labelledby="tester-title"
      onSubmit={(event) => {
        event.preventDefault();
        void model.run();
      }}
    >
      <h2 id="tester-title">Test the rules</h2>
      <p class="muted">Which rules an event matches and why the others do not. Nothing is scored.</p>
      <FormErrors messages={errors.form} />
      <div class="form-row">
        <div class="field">
          <label for="test-event_type">Type of the test event</label>
          <input type="text" list="test-event-types" autoComplete="off" spellcheck={false} {...type.props} />
          <datalist id="test-event-types">
            {eventTypes.map((value) => (
              <option key={value} value={value} />
            ))}
          </datalist>
          <FieldError id="test-event_type-error" message={type.message} />
        </div>
      </div>
      <div class="field">
        <label for="test-metadata">Metadata (JSON)</label>
        <textarea rows={3} spellcheck={false} placeholder='{ "path": "/pricing" }' {...metadata.props} />
        <FieldError id="test-metadata-error" message={metadata.message} />
      </div>
      <fieldset>
        <legend>Lead profile (optional)</legend>
        <div class="form-row">
          {profile.map(({ key, props, message }) => (
            <div class="field" key={key}>
              <label for={`test-${key}`}>Lead {key}</label>
              <input type="text" autoComplete="off" {...props} />
              <FieldError id={`test-${key}-error`} message={message} />
            </div>
          ))}
        </div>
      </fieldset>
      <div class="form-actions">
        <button type="submit" class="button button-primary" disabled={model.running.value}>
          {model.running.value ? "Testing…" : "Test"}
        </button>
      </div>
      {model.result.value ? <Result result={model.result.value} /> : null}
    </form>
  );
}
