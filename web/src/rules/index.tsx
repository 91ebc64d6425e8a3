import type { ReadonlySignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { ActionsTable, AdminNeeded, Empty, ErrorState, FieldError, Loading, PageTitle } from "../app/ui.tsx";
import type { Api, RuleGroupItem, RuleItem } from "../lib/api.ts";
import { formatSigned } from "../lib/format.ts";
import { describeCondition, describeLimit } from "../rule-editor/conditions.ts";
import { RuleEditor } from "../rule-editor/index.tsx";
import type { RuleEditorModel } from "../rule-editor/model.ts";
import { RuleGroups } from "../rule-groups/index.tsx";
import type { RuleGroupsModel } from "../rule-groups/model.ts";
import { RuleSetDraftPanel } from "../rule-set-draft/index.tsx";
import type { RuleSetDraftModel } from "../rule-set-draft/model.ts";
import { RuleTester } from "../rule-tester/index.tsx";
import type { RuleTesterModel } from "../rule-tester/model.ts";
import { createRulesScreen, type RulesModel, type RulesScreenModels } from "./model.ts";

function RuleName({ rule }: { rule: RuleItem }) {
  return (
    <th scope="row">
      <code>{rule.event_type}</code>
      <span class="muted rule-label">{rule.label}</span>
    </th>
  );
}

/** When the rule scores, how often, and in which group: the cells beside its name. */
function RuleScope({ rule, groups }: { rule: RuleItem; groups: readonly RuleGroupItem[] }) {
  const group = groups.find((item) => item._id === rule.group);
  return (
    <>
      <td class="rule-scope rule-when">
        {rule.where ? describeCondition(rule.where) : <span class="muted">every event</span>}
      </td>
      <td class={rule.limit ? "rule-scope" : "rule-scope rule-scope-none"}>
        {rule.limit ? describeLimit(rule.limit) : <span class="muted">—</span>}
      </td>
      <td class={rule.group ? "rule-scope" : "rule-scope rule-scope-none"}>
        {rule.group ? (
          `group ${group ? `${group.label} (max ${group.max})` : rule.group}`
        ) : (
          <span class="muted">—</span>
        )}
      </td>
    </>
  );
}

function RuleRow({
  model,
  rule,
  editor,
  groups,
}: {
  model: RulesModel;
  rule: RuleItem;
  editor: RuleEditorModel;
  groups: readonly RuleGroupItem[];
}) {
  const draft = model.drafts.value[rule._id] ?? { points: String(rule.points), active: rule.active, label: rule.label };
  const error = model.rowErrors.value[rule._id];
  const saving = !!model.saving.value[rule._id];
  const dirty = model.dirty.value.has(rule._id);
  const idBase = `rule-${rule._id}`;
  const name = model.names.value.get(rule._id) ?? rule.event_type;
  return (
    <tr>
      <th scope="row">
        <code>{rule.event_type}</code>
        <label class="sr-only" for={`${idBase}-label`}>
          Label for {name}
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
          Points for {name}
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
      <RuleScope rule={rule} groups={groups} />
      <td>
        <label class="checkbox">
          <input
            type="checkbox"
            checked={draft.active}
            onChange={(event) => model.edit(rule._id, { active: (event.currentTarget as HTMLInputElement).checked })}
          />
          <span>
            Active<span class="sr-only"> ({name})</span>
          </span>
        </label>
      </td>
      <td class="rule-actions">
        <button
          type="button"
          class="button"
          disabled={!dirty || saving}
          onClick={() => void model.save(rule._id)}
          aria-label={`Save ${name}`}
        >
          {saving ? "Saving…" : "Save"}
        </button>
        <button
          type="button"
          class="button button-quiet"
          onClick={() => {
            editor.edit(rule);
            document.getElementById("rule-form-title")?.scrollIntoView({ block: "start" });
          }}
          aria-label={`Edit ${name}`}
        >
          Edit
        </button>
        <button
          type="button"
          class="button button-quiet"
          disabled={!!model.deleting.value[rule._id]}
          onClick={() => {
            if (window.confirm(`Delete the rule ${name}? It scores no event from now on.`)) {
              void model.remove(rule._id);
            }
          }}
          aria-label={`Delete ${name}`}
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
function ReadOnlyRuleRow({ rule, groups }: { rule: RuleItem; groups: readonly RuleGroupItem[] }) {
  return (
    <tr>
      <RuleName rule={rule} />
      <td>{formatSigned(rule.points)}</td>
      <RuleScope rule={rule} groups={groups} />
      <td>{rule.active ? "Active" : "Inactive"}</td>
      <td />
    </tr>
  );
}

export function RulesPage({
  model,
  editor,
  groups,
  tester,
  draft,
  draftEditor,
}: {
  model: RulesModel;
  editor: RuleEditorModel;
  groups: RuleGroupsModel;
  tester: RuleTesterModel;
  draft?: RuleSetDraftModel;
  draftEditor?: RuleEditorModel;
}) {
  useEffect(() => model.activate(), [model]);
  useEffect(() => void groups.load(), [groups]);
  const status = model.status.value;
  const rules = model.rules.value;
  const groupList = groups.groups.value;
  const admin = model.token.value !== "";
  return (
    <>
      <PageTitle title="Rules">Scoring rules</PageTitle>
      <p class="lede">
        What each event is worth: a rule scores the events of its type that meet its conditions, at most as often as its
        limit allows and within its group's max. Several rules may score one event. A change applies to events scored
        from then on; scored events keep the points they were given.
      </p>
      {!admin || model.tokenError.value ? (
        <AdminNeeded action="Changing rules" next="/rules" reason={model.tokenError.value} />
      ) : null}
      <section class="panel" aria-labelledby="rules-title">
        <h2 id="rules-title">Rules</h2>
        <div aria-live="polite">
          {model.deleted.value ? (
            <p class="alert alert-success">
              Rule for <code>{model.deleted.value}</code> deleted; it scores no event from now on.
            </p>
          ) : null}
          {model.created.value ? (
            <p class="alert alert-success">
              Rule for <code>{model.created.value}</code> created; workers apply it within a second.
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
          <ActionsTable name="rules-table" columns={["Event type", "Points", "When", "Limit", "Group", "Active"]}>
            {rules.map((rule) =>
              admin ? (
                <RuleRow key={rule._id} model={model} rule={rule} editor={editor} groups={groupList} />
              ) : (
                <ReadOnlyRuleRow key={rule._id} rule={rule} groups={groupList} />
              ),
            )}
          </ActionsTable>
        ) : null}
      </section>
      {admin && !draft?.formOpen.value ? <RuleEditor model={editor} /> : null}
      <RuleGroups model={groups} admin={admin} />
      {admin ? <RuleTester model={tester} eventTypes={[...new Set(rules.map((rule) => rule.event_type))]} /> : null}
      {admin && draft && draftEditor ? <RuleSetDraftPanel model={draft} editor={draftEditor} /> : null}
    </>
  );
}

const screens = new WeakMap<object, RulesScreenModels>();

/** The rules page with its models, made on the first visit and kept while the app runs (forms keep their state). */
export function RulesScreen({ api, token }: { api: Api; token: ReadonlySignal<string> }) {
  let models = screens.get(api);
  if (!models) {
    models = createRulesScreen({ api, token });
    screens.set(api, models);
  }
  return <RulesPage {...models} />;
}
