import { ActionsTable, Empty, ErrorState, FieldError, FormErrors } from "../app/ui.tsx";
import type { RuleGroupItem } from "../lib/api.ts";
import { formatInteger } from "../lib/format.ts";
import type { GroupForm, RuleGroupsModel } from "./model.ts";

function GroupRow({ model, group, admin }: { model: RuleGroupsModel; group: RuleGroupItem; admin: boolean }) {
  const draft = model.drafts.value[group._id];
  const error = model.rowErrors.value[group._id];
  const busy = !!model.busy.value[group._id];
  const base = `group-${group._id}`;
  if (!admin) {
    return (
      <tr>
        <th scope="row">
          {group.label} <code class="muted">{group._id}</code>
        </th>
        <td>{formatInteger(group.max)}</td>
        <td />
      </tr>
    );
  }
  const value = (key: "label" | "max") => draft?.[key] ?? (key === "label" ? group.label : String(group.max));
  const input = (key: "label" | "max") => ({
    id: `${base}-${key}`,
    value: value(key),
    onInput: (event: Event) => model.edit(group._id, { [key]: (event.currentTarget as HTMLInputElement).value }),
    onKeyDown: (event: KeyboardEvent) => {
      if (event.key === "Enter" && draft) void model.save(group._id);
    },
    "aria-invalid": error ? true : undefined,
    "aria-describedby": error ? `${base}-error` : undefined,
  });
  return (
    <tr>
      <th scope="row">
        <label class="sr-only" for={`${base}-label`}>
          Label of group {group._id}
        </label>
        <input class="label-input" type="text" autoComplete="off" {...input("label")} />
        <code class="muted">{group._id}</code>
      </th>
      <td>
        <label class="sr-only" for={`${base}-max`}>
          Max of group {group._id}
        </label>
        <input class="points-input" type="number" inputMode="numeric" min={1} step={1} {...input("max")} />
      </td>
      <td class="rule-actions">
        <button
          type="button"
          class="button"
          disabled={!draft || busy}
          onClick={() => void model.save(group._id)}
          aria-label={`Save group ${group._id}`}
        >
          Save
        </button>
        <button
          type="button"
          class="button button-quiet"
          disabled={busy}
          onClick={() => {
            if (window.confirm(`Delete the group ${group.label}?`)) void model.remove(group._id);
          }}
          aria-label={`Delete group ${group._id}`}
        >
          Delete
        </button>
        <FieldError id={`${base}-error`} message={error} />
      </td>
    </tr>
  );
}

function NewGroup({ model }: { model: RuleGroupsModel }) {
  const form = model.newGroup.value;
  const errors = model.createErrors.value;
  const field = (key: keyof GroupForm) => ({
    id: `new-group-${key}`,
    value: form[key],
    onInput: (event: Event) => model.setNew(key, (event.currentTarget as HTMLInputElement).value),
    "aria-invalid": errors.at[key] ? true : undefined,
    "aria-describedby": errors.at[key] ? `new-group-${key}-error` : undefined,
  });
  return (
    <form
      class="form"
      noValidate
      aria-label="New group"
      onSubmit={(event) => {
        event.preventDefault();
        void model.create();
      }}
    >
      <FormErrors messages={errors.form} />
      <div class="form-row">
        <div class="field">
          <label for="new-group-label">Group label</label>
          <input type="text" autoComplete="off" {...field("label")} />
          <FieldError id="new-group-label-error" message={errors.at.label} />
        </div>
        <div class="field field-narrow">
          <label for="new-group-max">Most points</label>
          <input type="number" inputMode="numeric" min={1} step={1} {...field("max")} />
          <FieldError id="new-group-max-error" message={errors.at.max} />
        </div>
        <div class="field">
          <label for="new-group-_id">Group id (optional)</label>
          <input type="text" autoComplete="off" spellcheck={false} {...field("_id")} />
          <FieldError id="new-group-_id-error" message={errors.at._id} />
        </div>
      </div>
      <div class="form-actions">
        <button type="submit" class="button button-primary" disabled={model.creating.value}>
          {model.creating.value ? "Creating…" : "Create group"}
        </button>
      </div>
    </form>
  );
}

/** The groups: the most points each one's rules add to a lead over its life. */
export function RuleGroups({ model, admin }: { model: RuleGroupsModel; admin: boolean }) {
  const groups = model.groups.value;
  const status = model.status.value;
  return (
    <section class="panel" aria-labelledby="groups-title">
      <h2 id="groups-title">Groups</h2>
      <p class="muted">
        The points a group's rules add to one lead over its life never exceed its max; negative points always apply.
      </p>
      <div aria-live="polite">
        {model.message.value ? <p class="alert alert-success">{model.message.value}</p> : null}
      </div>
      {status === "error" ? (
        <ErrorState
          title="The groups could not be loaded."
          message={model.error.value}
          onRetry={() => void model.load()}
        />
      ) : null}
      {status === "ready" && groups.length === 0 ? (
        <Empty>
          <p>No groups yet.</p>
        </Empty>
      ) : null}
      {groups.length > 0 ? (
        <ActionsTable name="groups-table" columns={["Group", "Max"]}>
          {groups.map((group) => (
            <GroupRow key={group._id} model={model} group={group} admin={admin} />
          ))}
        </ActionsTable>
      ) : null}
      {admin ? <NewGroup model={model} /> : null}
    </section>
  );
}
