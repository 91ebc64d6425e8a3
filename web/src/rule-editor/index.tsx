import { FieldError, FormErrors } from "../app/ui.tsx";
import {
  CASE_OPS,
  type ConditionRow,
  describeCondition,
  FIELD_SUGGESTIONS,
  OPERATOR_CHOICES,
  rowPath,
} from "./conditions.ts";
import { LIMIT_PERIOD_CHOICES, type RuleEditorModel } from "./model.ts";

/** An input's id, its error's id and the ARIA attributes that tie them, for the error at `path`. */
function described(model: RuleEditorModel, path: string) {
  const id = `rule-${path.replace(/[^a-z0-9]+/gi, "-")}`;
  const message = model.errors.value.at[path];
  return {
    id,
    errorId: `${id}-error`,
    message,
    aria: { "aria-invalid": message ? true : undefined, "aria-describedby": message ? `${id}-error` : undefined },
  };
}

function Row({ model, row, index }: { model: RuleEditorModel; row: ConditionRow; index: number }) {
  const form = model.form.value;
  const base = rowPath({ combinator: form.combinator, rows: form.rows }, index);
  // A single row is the tree's root: a problem of the whole tree shows under the conditions, not on the row.
  const whole = base === "where" ? null : described(model, base);
  const field = described(model, `${base}.field`);
  const op = described(model, `${base}.op`);
  const value = described(model, `${base}.value`);
  const caseError = described(model, `${base}.case`);
  const n = index + 1;
  const update = (change: Partial<ConditionRow>) => model.updateRow(row.key, change);
  return (
    <li class="condition-row" data-testid="condition-row">
      <label class="checkbox condition-not">
        <input
          type="checkbox"
          checked={row.negate}
          onChange={(event) => update({ negate: (event.currentTarget as HTMLInputElement).checked })}
        />
        <span>
          not<span class="sr-only"> (condition {n})</span>
        </span>
      </label>
      <div class="field">
        <label class="sr-only" for={field.id}>
          Field of condition {n}
        </label>
        <input
          id={field.id}
          type="text"
          list="condition-fields"
          autoComplete="off"
          spellcheck={false}
          placeholder="metadata.path"
          value={row.field}
          onInput={(event) => update({ field: (event.currentTarget as HTMLInputElement).value })}
          {...field.aria}
        />
        <FieldError id={field.errorId} message={field.message} />
      </div>
      <div class="field">
        <label class="sr-only" for={op.id}>
          Operator of condition {n}
        </label>
        <select
          id={op.id}
          value={row.op}
          onChange={(event) => update({ op: (event.currentTarget as HTMLSelectElement).value as ConditionRow["op"] })}
          {...op.aria}
        >
          {OPERATOR_CHOICES.map((choice) => (
            <option key={choice.op} value={choice.op}>
              {choice.text}
            </option>
          ))}
        </select>
        <FieldError id={op.errorId} message={op.message} />
      </div>
      <div class="field">
        <label class="sr-only" for={value.id}>
          Value of condition {n}
        </label>
        {row.op === "exists" ? (
          <select
            id={value.id}
            value={row.value === "false" ? "false" : "true"}
            onChange={(event) => update({ value: (event.currentTarget as HTMLSelectElement).value })}
            {...value.aria}
          >
            <option value="true">yes</option>
            <option value="false">no (missing)</option>
          </select>
        ) : (
          <input
            id={value.id}
            type="text"
            autoComplete="off"
            spellcheck={false}
            placeholder={row.op === "in" || row.op === "nin" ? "a, b, c" : ""}
            value={row.value}
            onInput={(event) => update({ value: (event.currentTarget as HTMLInputElement).value })}
            {...value.aria}
          />
        )}
        <FieldError id={value.errorId} message={value.message} />
      </div>
      {CASE_OPS.has(row.op) ? (
        <label class="checkbox">
          <input
            type="checkbox"
            checked={row.insensitive}
            onChange={(event) => update({ insensitive: (event.currentTarget as HTMLInputElement).checked })}
          />
          <span>
            any case<span class="sr-only"> (condition {n})</span>
          </span>
        </label>
      ) : null}
      <button
        type="button"
        class="button button-quiet button-small"
        aria-label={`Remove condition ${n}`}
        onClick={() => model.removeRow(row.key)}
      >
        Remove
      </button>
      <FieldError id={caseError.errorId} message={caseError.message ?? whole?.message} />
    </li>
  );
}

function Conditions({ model }: { model: RuleEditorModel }) {
  const form = model.form.value;
  const where = described(model, "where");
  if (form.json !== null) {
    return (
      <fieldset class="conditions">
        <legend>Conditions</legend>
        <div class="field">
          <label for={where.id}>Condition (JSON)</label>
          <textarea
            id={where.id}
            rows={8}
            spellcheck={false}
            value={form.json}
            onInput={(event) => model.set("json", (event.currentTarget as HTMLTextAreaElement).value)}
            {...where.aria}
          />
          <FieldError id={where.errorId} message={where.message} />
        </div>
        <button type="button" class="button button-quiet button-small" onClick={() => model.useRows()}>
          Edit as rows
        </button>
      </fieldset>
    );
  }
  return (
    <fieldset class="conditions">
      <legend>Conditions</legend>
      {form.rows.length === 0 ? <p class="muted">None: every event of the type matches.</p> : null}
      {form.rows.length > 1 ? (
        <div class="field field-inline">
          <label for="rule-combinator">Match</label>
          <select
            id="rule-combinator"
            value={form.combinator}
            onChange={(event) =>
              model.set("combinator", (event.currentTarget as HTMLSelectElement).value as "all" | "any")
            }
          >
            <option value="all">all of these</option>
            <option value="any">any of these</option>
          </select>
        </div>
      ) : null}
      <ol class="condition-rows">
        {form.rows.map((row, index) => (
          <Row key={row.key} model={model} row={row} index={index} />
        ))}
      </ol>
      <datalist id="condition-fields">
        {FIELD_SUGGESTIONS.map((field) => (
          <option key={field} value={field} />
        ))}
      </datalist>
      <FieldError id={where.errorId} message={where.message} />
      <div class="form-actions">
        <button type="button" class="button button-small" onClick={() => model.addRow("metadata.")}>
          Add condition
        </button>
        <button type="button" class="button button-quiet button-small" onClick={() => model.useJson()}>
          Edit as JSON
        </button>
      </div>
      {model.where.value ? (
        <p class="muted condition-preview" data-testid="condition-preview">
          When {describeCondition(model.where.value)}
        </p>
      ) : null}
    </fieldset>
  );
}

function Limit({ model }: { model: RuleEditorModel }) {
  const form = model.form.value;
  const max = described(model, "limit.max");
  const per = described(model, "limit.per");
  const key = described(model, "limit.key");
  const limit = described(model, "limit");
  return (
    <fieldset class="limit">
      <legend>Limit</legend>
      <label class="checkbox">
        <input
          type="checkbox"
          checked={form.limited}
          onChange={(event) => model.set("limited", (event.currentTarget as HTMLInputElement).checked)}
        />
        <span>Limit how often the rule scores</span>
      </label>
      {form.limited ? (
        <div class="form-row">
          <div class="field field-narrow">
            <label for={max.id}>At most</label>
            <input
              id={max.id}
              type="number"
              inputMode="numeric"
              min={1}
              step={1}
              value={form.limitMax}
              onInput={(event) => model.set("limitMax", (event.currentTarget as HTMLInputElement).value)}
              {...max.aria}
            />
            <FieldError id={max.errorId} message={max.message} />
          </div>
          <div class="field field-narrow">
            <label for={per.id}>times</label>
            <select
              id={per.id}
              value={form.limitPer}
              onChange={(event) =>
                model.set("limitPer", (event.currentTarget as HTMLSelectElement).value as typeof form.limitPer)
              }
              {...per.aria}
            >
              {LIMIT_PERIOD_CHOICES.map((choice) => (
                <option key={choice.per} value={choice.per}>
                  {choice.text}
                </option>
              ))}
            </select>
            <FieldError id={per.errorId} message={per.message} />
          </div>
          <div class="field">
            <label for={key.id}>Per value of (optional)</label>
            <input
              id={key.id}
              type="text"
              list="condition-fields"
              autoComplete="off"
              spellcheck={false}
              placeholder="metadata.email_id"
              value={form.limitKey}
              onInput={(event) => model.set("limitKey", (event.currentTarget as HTMLInputElement).value)}
              {...key.aria}
            />
            <FieldError id={key.errorId} message={key.message} />
          </div>
        </div>
      ) : null}
      <FieldError id={limit.errorId} message={limit.message} />
    </fieldset>
  );
}

/** The rule form: a new rule, or the whole of the rule being edited. */
export function RuleEditor({ model }: { model: RuleEditorModel }) {
  const form = model.form.value;
  const editing = model.editing.value;
  const errors = model.errors.value;
  const field = (key: "_id" | "event_type" | "label" | "points") => {
    // These keep the ids of the form before conditions existed (`new-points`, `new-points-error`).
    const { message, aria } = described(model, key);
    return {
      input: {
        id: `new-${key}`,
        value: form[key],
        onInput: (event: Event) => model.set(key, (event.currentTarget as HTMLInputElement).value),
        ...aria,
        "aria-describedby": message ? `new-${key}-error` : undefined,
      },
      message,
    };
  };
  const eventType = field("event_type");
  const label = field("label");
  const points = field("points");
  const id = field("_id");
  const group = described(model, "group");
  return (
    <form
      class="panel form rule-form"
      noValidate
      aria-labelledby="rule-form-title"
      onSubmit={(event) => {
        event.preventDefault();
        void model.submit();
      }}
    >
      <h2 id="rule-form-title">{editing === null ? "New rule" : `Edit rule ${form.label || editing}`}</h2>
      <div aria-live="polite">
        <FormErrors messages={errors.form} />
      </div>
      <div class="form-row">
        <div class="field">
          <label for="new-event_type">Event type</label>
          <input type="text" autoComplete="off" spellcheck={false} {...eventType.input} />
          <FieldError id="new-event_type-error" message={eventType.message} />
        </div>
        <div class="field">
          <label for="new-label">Label</label>
          <input type="text" autoComplete="off" {...label.input} />
          <FieldError id="new-label-error" message={label.message} />
        </div>
        <div class="field field-narrow">
          <label for="new-points">Points</label>
          <input type="number" inputMode="numeric" min={-1000} max={1000} step={1} {...points.input} />
          <FieldError id="new-points-error" message={points.message} />
        </div>
        <div class="field field-check">
          <label class="checkbox">
            <input
              type="checkbox"
              checked={form.active}
              onChange={(event) => model.set("active", (event.currentTarget as HTMLInputElement).checked)}
            />
            <span>Active</span>
          </label>
        </div>
      </div>
      <Conditions model={model} />
      <Limit model={model} />
      <div class="form-row">
        <div class="field">
          <label for={group.id}>Group</label>
          <select
            id={group.id}
            value={form.group}
            onChange={(event) => model.set("group", (event.currentTarget as HTMLSelectElement).value)}
            {...group.aria}
          >
            <option value="">No group</option>
            {model.groups.value.map((item) => (
              <option key={item._id} value={item._id}>
                {item.label} (max {item.max})
              </option>
            ))}
          </select>
          <FieldError id={group.errorId} message={group.message} />
        </div>
        {editing === null ? (
          <div class="field">
            <label for="new-_id">Id (optional)</label>
            <input type="text" autoComplete="off" spellcheck={false} {...id.input} />
            <FieldError id="new-_id-error" message={id.message} />
          </div>
        ) : (
          <FieldError id="new-_id-error" message={id.message} />
        )}
      </div>
      <div class="form-actions">
        <button type="submit" class="button button-primary" disabled={model.saving.value}>
          {model.saving.value ? "Saving…" : editing === null ? "Create rule" : "Save rule"}
        </button>
        {editing !== null ? (
          <button type="button" class="button button-quiet" onClick={() => model.startNew()}>
            Cancel
          </button>
        ) : null}
      </div>
    </form>
  );
}
