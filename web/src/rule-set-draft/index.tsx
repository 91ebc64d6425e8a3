import { useEffect } from "preact/hooks";
import { ErrorState, FormErrors, Loading, StageBadge } from "../app/ui.tsx";
import { formatInteger, formatSeconds, formatSigned } from "../lib/format.ts";
import { RuleEditor } from "../rule-editor/index.tsx";
import type { RuleEditorModel } from "../rule-editor/model.ts";
import type { Preview, PreviewResult, RuleSetVersion } from "./api.ts";
import { plural, previewShare, previewSummary, type RuleSetDraftModel, STAGES } from "./model.ts";

function DraftRules({ model, editor }: { model: RuleSetDraftModel; editor: RuleEditorModel }) {
  const draft = model.draft.value;
  if (!draft) return null;
  return (
    <>
      <p class="muted">
        Draft based on version {draft.based_on}, last changed by {draft.updated_by}. Nothing here scores until it is
        published.
      </p>
      <table class="table" aria-label="Draft rules">
        <thead>
          <tr>
            <th scope="col">Rule</th>
            <th scope="col">Points</th>
            <th scope="col">Active</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {draft.rules.map((rule) => {
            const edit = model.edits.value[rule._id] ?? { points: String(rule.points), active: rule.active };
            const name = rule._id === rule.event_type ? rule.event_type : `${rule.event_type}: ${rule.label}`;
            return (
              <tr key={rule._id}>
                <th scope="row">
                  <code>{rule.event_type}</code> <span class="muted">{rule.label}</span>
                </th>
                <td>
                  <input
                    class="points-input"
                    type="number"
                    inputMode="numeric"
                    min={-1000}
                    max={1000}
                    step={1}
                    aria-label={`Draft points for ${name}`}
                    value={edit.points}
                    onInput={(event) =>
                      model.edit(rule._id, { points: (event.currentTarget as HTMLInputElement).value })
                    }
                  />
                </td>
                <td>
                  <label class="checkbox">
                    <input
                      type="checkbox"
                      checked={edit.active}
                      onChange={(event) =>
                        model.edit(rule._id, { active: (event.currentTarget as HTMLInputElement).checked })
                      }
                    />
                    <span>
                      Active<span class="sr-only"> in the draft ({name})</span>
                    </span>
                  </label>
                </td>
                <td>
                  <button
                    type="button"
                    class="button button-quiet"
                    aria-label={`Edit ${name} in the draft`}
                    onClick={() => {
                      editor.edit(rule);
                      model.openForm();
                    }}
                  >
                    Edit
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <FormErrors messages={model.problems.value} />
      <p class="form-actions">
        <button
          type="button"
          class="button"
          disabled={!model.dirty.value || model.saving.value || model.problems.value.length > 0}
          onClick={() => void model.save()}
        >
          {model.saving.value ? "Saving draft…" : "Save draft"}
        </button>
        <button
          type="button"
          class="button button-quiet"
          onClick={() => {
            editor.startNew();
            model.openForm();
          }}
        >
          Add a rule to the draft
        </button>
        <span aria-live="polite">{model.saved.value ? <span class="ok">Draft saved</span> : null}</span>
      </p>
      {model.formOpen.value ? (
        <div class="draft-rule-form">
          <p class="muted">
            The rule form writes into the draft while it is open here.{" "}
            <button type="button" class="button button-quiet" onClick={() => model.closeForm()}>
              Close the form
            </button>
          </p>
          <RuleEditor model={editor} />
        </div>
      ) : null}
    </>
  );
}

function StageMatrix({ result }: { result: PreviewResult }) {
  return (
    <table class="table" aria-label="Stage now by stage under the draft">
      <thead>
        <tr>
          <th scope="col">Now ↓ / draft →</th>
          {STAGES.map((stage) => (
            <th scope="col" key={stage}>
              {stage}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {STAGES.map((from) => (
          <tr key={from}>
            <th scope="row">{from}</th>
            {STAGES.map((to) => (
              <td key={to} class={from === to ? "muted" : undefined}>
                {formatInteger(result.matrix[from]?.[to] ?? 0)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Histograms({ result }: { result: PreviewResult }) {
  const ranges = new Map<number, { to: number; before: number; after: number }>();
  for (const bucket of result.histogram.before)
    ranges.set(bucket.from, { to: bucket.to, before: bucket.count, after: 0 });
  for (const bucket of result.histogram.after) {
    const range = ranges.get(bucket.from) ?? { to: bucket.to, before: 0, after: 0 };
    ranges.set(bucket.from, { ...range, after: bucket.count });
  }
  const rows = [...ranges.entries()].sort(([a], [b]) => a - b);
  const highest = Math.max(1, ...rows.flatMap(([, range]) => [range.before, range.after]));
  return (
    <table class="table" aria-label="Score histogram now and under the draft">
      <thead>
        <tr>
          <th scope="col">Score</th>
          <th scope="col">Leads now</th>
          <th scope="col">Leads under the draft</th>
        </tr>
      </thead>
      <tbody>
        {rows.map(([from, range]) => (
          <tr key={from}>
            <th scope="row">
              {from}–{range.to}
            </th>
            <td>
              <meter min={0} max={highest} value={range.before} aria-hidden="true" /> {formatInteger(range.before)}
            </td>
            <td>
              <meter min={0} max={highest} value={range.after} aria-hidden="true" /> {formatInteger(range.after)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Movers({ result }: { result: PreviewResult }) {
  if (result.movers.length === 0) return <p class="muted">No lead's score moves.</p>;
  return (
    <table class="table" aria-label="Leads that move most">
      <thead>
        <tr>
          <th scope="col">Lead</th>
          <th scope="col">Score now → draft</th>
          <th scope="col">Stage</th>
          <th scope="col">Rules that differ</th>
        </tr>
      </thead>
      <tbody>
        {result.movers.map((mover) => (
          <tr key={mover.lead_id}>
            <th scope="row">
              <a href={`/leads/${encodeURIComponent(mover.lead_id)}`}>{mover.lead_id}</a>
            </th>
            <td>
              {formatInteger(mover.before)} → {formatInteger(mover.after)} ({formatSigned(mover.delta)})
            </td>
            <td>
              <StageBadge stage={mover.stage_before} /> → <StageBadge stage={mover.stage_after} />
            </td>
            <td>
              {mover.rules
                .map((rule) => `${rule.rule_id} ${formatInteger(rule.before)} → ${formatInteger(rule.after)}`)
                .join("; ")}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function PreviewState({ model, preview }: { model: RuleSetDraftModel; preview: Preview }) {
  const { progress } = preview;
  if (preview.state === "queued" || preview.state === "running") {
    const share = previewShare(preview);
    return (
      <div>
        <p>
          <label>
            Preview progress{" "}
            <progress max={1} value={share}>
              {Math.round(share * 100)}%
            </progress>
          </label>{" "}
          {formatInteger(progress.events_done)} of {formatInteger(progress.events_total)} events,{" "}
          {formatInteger(progress.leads_done)} leads
          {progress.eta_seconds ? `, about ${formatSeconds(progress.eta_seconds)} left` : ""}
        </p>
        <button type="button" class="button button-quiet" onClick={() => void model.cancelPreview()}>
          Cancel preview
        </button>
      </div>
    );
  }
  if (preview.state === "cancelled") return <p class="muted">The preview was cancelled.</p>;
  if (preview.state === "failed") return <p class="alert alert-error">The preview failed: {preview.error}</p>;
  const result = preview.result;
  if (!result) return null;
  return (
    <div>
      <p class="alert alert-success" data-testid="preview-summary">
        {previewSummary(result)}
      </p>
      <p class="muted">
        Over {plural(result.leads, "lead", "leads")} and {plural(result.events, "stored event", "stored events")}.
        Webhooks count the <code>lead.stage_changed</code> messages a re-score of history would send.
      </p>
      <h3>Stages</h3>
      <StageMatrix result={result} />
      <h3>Scores</h3>
      <Histograms result={result} />
      <h3>Leads that move most</h3>
      <Movers result={result} />
    </div>
  );
}

function Versions({ model }: { model: RuleSetDraftModel }) {
  const versions = model.versions.value;
  if (versions.length === 0) return null;
  const describe = (version: RuleSetVersion) =>
    version.source === "version"
      ? `version ${version.restores} again`
      : version.source === "draft"
        ? "a published draft"
        : "a rules change";
  return (
    <>
      <h3 id="rule-set-versions">Versions</h3>
      <table class="table" aria-labelledby="rule-set-versions">
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Published</th>
            <th scope="col">From</th>
            <th scope="col" />
          </tr>
        </thead>
        <tbody>
          {versions.map((version) => (
            <tr key={version.version}>
              <th scope="row">
                {version.version}
                {version.live ? <span class="muted"> (in force)</span> : null}
              </th>
              <td>
                {new Date(version.published_at).toLocaleString()} by {version.published_by}
              </td>
              <td>{describe(version)}</td>
              <td>
                {version.live ? null : (
                  <button
                    type="button"
                    class="button button-quiet"
                    disabled={model.publishing.value !== null}
                    aria-label={`Publish version ${version.version} again`}
                    onClick={() => {
                      if (window.confirm(`Put version ${version.version}'s rules back in force for new events?`)) {
                        void model.publishVersion(version.version);
                      }
                    }}
                  >
                    Publish this version
                  </button>
                )}
                {version.live ? null : (
                  <button
                    type="button"
                    class="button button-quiet"
                    disabled={model.publishing.value !== null}
                    aria-label={`Publish version ${version.version} and re-score every lead`}
                    onClick={() => {
                      if (
                        window.confirm(`Put version ${version.version}'s rules back in force and re-score every lead?`)
                      ) {
                        void model.publishVersion(version.version, "retroactive");
                      }
                    }}
                  >
                    … and re-score
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** The rule-set draft: edit, preview, publish; and the versions, any of which may be published again. */
export function RuleSetDraftPanel({ model, editor }: { model: RuleSetDraftModel; editor: RuleEditorModel }) {
  useEffect(() => void model.load(), [model]);
  const draft = model.draft.value;
  const preview = model.preview.value;
  const published = model.published.value;
  return (
    <section class="panel" aria-labelledby="rule-set-draft-title">
      <h2 id="rule-set-draft-title">Draft and versions</h2>
      <p class="lede">
        Change several rules at once in a draft, see what it would do to every lead before it scores anything, then
        publish it. Publishing applies to new events only: re-scoring history with a draft is not available yet.
      </p>
      <div aria-live="polite">
        {published ? (
          <p class="alert alert-success">Version {published.version} is in force; workers apply it within a second.</p>
        ) : null}
      </div>
      {model.status.value === "loading" ? <Loading label="Loading the draft…" /> : null}
      {model.status.value === "error" ? (
        <ErrorState
          title="The draft could not be loaded."
          message={model.error.value}
          onRetry={() => void model.load()}
        />
      ) : model.error.value ? (
        <p class="alert alert-error">{model.error.value}</p>
      ) : null}
      {draft ? (
        <>
          <DraftRules model={model} editor={editor} />
          <h3>Preview</h3>
          <p class="form-actions">
            <button
              type="button"
              class="button"
              disabled={model.previewRunning.value || model.dirty.value}
              onClick={() => void model.startPreview()}
            >
              Preview
            </button>
            {model.dirty.value ? <span class="muted"> Save the draft to preview it.</span> : null}
          </p>
          {model.previewError.value ? <p class="alert alert-error">{model.previewError.value}</p> : null}
          <div aria-live="polite">{preview ? <PreviewState model={model} preview={preview} /> : null}</div>
          <p class="form-actions">
            <button
              type="button"
              class="button"
              disabled={model.publishing.value !== null || model.dirty.value}
              onClick={() => void model.publishDraft()}
            >
              {model.publishing.value === "draft" ? "Publishing…" : "Publish (new events only)"}
            </button>{" "}
            <button
              type="button"
              class="button"
              disabled={model.publishing.value !== null || model.dirty.value}
              onClick={() => {
                if (window.confirm("Publish the draft and re-score every lead's history with it?")) {
                  void model.publishDraft("retroactive");
                }
              }}
            >
              Publish and re-score every lead
            </button>
            <span class="muted"> Re-scoring runs online; its webhooks are suppressed.</span>
          </p>
        </>
      ) : model.status.value !== "loading" ? (
        <p class="form-actions">
          <button type="button" class="button" onClick={() => void model.editAsDraft()}>
            Edit as draft
          </button>
        </p>
      ) : null}
      <Versions model={model} />
    </section>
  );
}
