import { useEffect } from "preact/hooks";
import {
  ActionsTable,
  AdminNeeded,
  Empty,
  ErrorState,
  FieldError,
  FormErrors,
  Loading,
  PageTitle,
} from "../app/ui.tsx";
import type { RuleItem } from "../lib/api.ts";
import { formatSigned } from "../lib/format.ts";
import type { RulesModel } from "./model.ts";

function RuleName({ rule }: { rule: RuleItem }) {
  return (
    <th scope="row">
      <code>{rule.event_type}</code>
      <span class="muted rule-label">{rule.label}</span>
    </th>
  );
}

function RuleRow({ model, rule }: { model: RulesModel; rule: RuleItem }) {
  const draft = model.drafts.value[rule._id] ?? { points: String(rule.points), active: rule.active, label: rule.label };
  const error = model.rowErrors.value[rule._id];
  const saving = !!model.saving.value[rule._id];
  const dirty = model.dirty.value.has(rule._id);
  const idBase = `rule-${rule._id}`;
  return (
    <tr>
      <th scope="row">
        <code>{rule.event_type}</code>
        <label class="sr-only" for={`${idBase}-label`}>
          Label for {rule.event_type}
        </label>
        <input
          id={`${idBase}-label`}
          class="label-input"
          type="text"
          autoComplete="off"
          value={draft.label}
          onInput={(event) => model.edit(rule._id, { label: (event.currentTarget as HTMLInputElement).value })}
          onKeyDown={(event) => {
            if (event.key === "Enter" && dirty) void model.save(rule._id);
          }}
        />
      </th>
      <td>
        <label class="sr-only" for={`${idBase}-points`}>
          Points for {rule.event_type}
        </label>
        <input
          id={`${idBase}-points`}
          class="points-input"
          type="number"
          inputMode="numeric"
          min={-1000}
          max={1000}
          step={1}
          value={draft.points}
          onInput={(event) => model.edit(rule._id, { points: (event.currentTarget as HTMLInputElement).value })}
          onKeyDown={(event) => {
            if (event.key === "Enter" && dirty) void model.save(rule._id);
          }}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? `${idBase}-error` : undefined}
        />
      </td>
      <td>
        <label class="checkbox">
          <input
            type="checkbox"
            checked={draft.active}
            onChange={(event) => model.edit(rule._id, { active: (event.currentTarget as HTMLInputElement).checked })}
          />
          <span>
            Active<span class="sr-only"> ({rule.event_type})</span>
          </span>
        </label>
      </td>
      <td class="rule-actions">
        <button
          type="button"
          class="button"
          disabled={!dirty || saving}
          onClick={() => void model.save(rule._id)}
          aria-label={`Save ${rule.event_type}`}
        >
          {saving ? "Saving…" : "Save"}
        </button>
        <button
          type="button"
          class="button button-quiet"
          disabled={!!model.deleting.value[rule._id]}
          onClick={() => {
            if (window.confirm(`Delete the rule for ${rule.event_type}? Its events will score 0 from now on.`)) {
              void model.remove(rule._id);
            }
          }}
          aria-label={`Delete ${rule.event_type}`}
        >
          Delete
        </button>
        <span class="rule-status" aria-live="polite">
          {model.saved.value[rule._id] ? <span class="ok">Saved</span> : null}
        </span>
        <FieldError id={`${idBase}-error`} message={error} />
      </td>
    </tr>
  );
}

/** A rule as a read token sees it: its points and whether it is active, nothing to press. */
function ReadOnlyRuleRow({ rule }: { rule: RuleItem }) {
  return (
    <tr>
      <RuleName rule={rule} />
      <td>{formatSigned(rule.points)}</td>
      <td>{rule.active ? "Active" : "Inactive"}</td>
      <td />
    </tr>
  );
}

function NewRule({ model }: { model: RulesModel }) {
  const form = model.newRule.value;
  const errors = model.createErrors.value;
  const field = (key: "event_type" | "label" | "points") => ({
    id: `new-${key}`,
    value: form[key],
    onInput: (event: Event) => model.setNew(key, (event.currentTarget as HTMLInputElement).value),
    "aria-invalid": errors.fields[key] ? true : undefined,
    "aria-describedby": errors.fields[key] ? `new-${key}-error` : undefined,
  });
  return (
    <form
      class="panel form"
      noValidate
      aria-labelledby="new-rule-title"
      onSubmit={(event) => {
        event.preventDefault();
        void model.create();
      }}
    >
      <h2 id="new-rule-title">New rule</h2>
      <div aria-live="polite">
        <FormErrors messages={errors.form} />
        {model.created.value ? (
          <p class="alert alert-success">
            Rule for <code>{model.created.value}</code> created; workers apply it within a second.
          </p>
        ) : null}
      </div>
      <div class="form-row">
        <div class="field">
          <label for="new-event_type">Event type</label>
          <input type="text" autoComplete="off" spellcheck={false} {...field("event_type")} />
          <FieldError id="new-event_type-error" message={errors.fields.event_type} />
        </div>
        <div class="field">
          <label for="new-label">Label</label>
          <input type="text" autoComplete="off" {...field("label")} />
          <FieldError id="new-label-error" message={errors.fields.label} />
        </div>
        <div class="field field-narrow">
          <label for="new-points">Points</label>
          <input type="number" inputMode="numeric" min={-1000} max={1000} step={1} {...field("points")} />
          <FieldError id="new-points-error" message={errors.fields.points} />
        </div>
        <div class="field field-check">
          <label class="checkbox">
            <input
              type="checkbox"
              checked={form.active}
              onChange={(event) => model.setNew("active", (event.currentTarget as HTMLInputElement).checked)}
            />
            <span>Active</span>
          </label>
        </div>
      </div>
      <div class="form-actions">
        <button type="submit" class="button button-primary" disabled={model.creating.value}>
          {model.creating.value ? "Creating…" : "Create rule"}
        </button>
      </div>
    </form>
  );
}

export function RulesPage({ model }: { model: RulesModel }) {
  useEffect(() => model.activate(), [model]);
  const status = model.status.value;
  const rules = model.rules.value;
  const admin = model.token.value !== "";
  return (
    <>
      <PageTitle title="Rules">Scoring rules</PageTitle>
      <p class="lede">
        Points each event type is worth. A change applies to events scored from then on; scored events keep the points
        they were given.
      </p>
      {!admin || model.tokenError.value ? (
        <AdminNeeded action="Changing rules" next="/rules" reason={model.tokenError.value} />
      ) : null}
      <section class="panel" aria-labelledby="rules-title">
        <h2 id="rules-title">Rules</h2>
        <div aria-live="polite">
          {model.deleted.value ? (
            <p class="alert alert-success">
              Rule for <code>{model.deleted.value}</code> deleted; its events score 0 from now on.
            </p>
          ) : null}
        </div>
        {status === "loading" ? <Loading label="Loading rules…" /> : null}
        {status === "error" ? (
          <ErrorState
            title="The rules could not be loaded."
            message={model.error.value}
            onRetry={() => void model.load()}
          />
        ) : null}
        {status === "ready" && rules.length === 0 ? (
          <Empty>
            <p>No rules: every event scores 0.{admin ? " Create one below." : ""}</p>
          </Empty>
        ) : null}
        {rules.length > 0 ? (
          <ActionsTable name="rules-table" columns={["Event type", "Points", "Active"]}>
            {rules.map((rule) =>
              admin ? (
                <RuleRow key={rule._id} model={model} rule={rule} />
              ) : (
                <ReadOnlyRuleRow key={rule._id} rule={rule} />
              ),
            )}
          </ActionsTable>
        ) : null}
      </section>
      {admin ? <NewRule model={model} /> : null}
    </>
  );
}
