// The Settings page: score decay's half-life, set with the admin token. A chunk of its own, fetched on its first
// visit; its model is in the first load, since the header and every score shown follow the half-life.
import { useEffect } from "preact/hooks";
import { AdminNeeded, ErrorState, FieldError, Loading, PageTitle } from "../app/ui.tsx";
import { formatDecimal, formatInteger } from "../lib/format.ts";
import { HALF_LIFE_UNITS, type HalfLifeUnit, type ScoringModel } from "./model.ts";

/** "412 ms" under a second, "13.4 s" above. */
const duration = (ms: number) => (ms < 1000 ? `${formatInteger(ms)} ms` : `${formatDecimal(ms / 1000)} s`);

function Saved({ model }: { model: ScoringModel }) {
  const saved = model.saved.value;
  if (!saved) return null;
  const rekeyed =
    saved.rekeyed_leads === undefined
      ? ""
      : ` Re-keyed ${formatInteger(saved.rekeyed_leads)} ${saved.rekeyed_leads === 1 ? "lead" : "leads"}` +
        `${saved.rekey_ms === undefined ? "" : ` in ${duration(saved.rekey_ms)}`}.`;
  return (
    <p class="alert alert-success" role="status">
      {saved.half_life_seconds === null ? "Saved: scores no longer decay." : `Saved: ${model.headline.value}.`}
      {rekeyed}
    </p>
  );
}

export function SettingsScreen({ model, admin }: { model: ScoringModel; admin: boolean }) {
  useEffect(() => void model.load(), [model]);
  const form = model.form.value;
  const saving = model.saving.value;
  const error = model.formError.value;
  return (
    <>
      <PageTitle title="Settings">Settings</PageTitle>
      {admin ? null : <AdminNeeded action="Changing the settings" next="/settings" />}
      {model.status.value === "loading" ? (
        <Loading label="Loading the settings…" />
      ) : model.status.value === "error" ? (
        <ErrorState
          title="The settings could not be loaded."
          message={model.error.value}
          onRetry={() => void model.load()}
        />
      ) : (
        <form
          class="panel form"
          noValidate
          aria-labelledby="decay-title"
          aria-busy={saving}
          onSubmit={(event) => {
            event.preventDefault();
            void model.save();
          }}
        >
          <h2 id="decay-title">Score decay</h2>
          <p class="hint">
            With a half-life, every score falls continuously between events — a lead that was hot a year ago no longer
            outranks one that is hot today — and stages follow as each score crosses a threshold.
          </p>
          <fieldset class="field" disabled={!admin || saving}>
            <legend>Decay</legend>
            <label class="checkbox">
              <input type="radio" name="decay" checked={!form.on} onChange={() => model.edit({ on: false })} />
              <span>Off: scores only change with events</span>
            </label>
            <label class="checkbox">
              <input type="radio" name="decay" checked={form.on} onChange={() => model.edit({ on: true })} />
              <span>Scores halve every…</span>
            </label>
          </fieldset>
          <div class="form-row">
            <div class="field">
              <label for="half-life-amount">Half-life</label>
              <input
                id="half-life-amount"
                type="number"
                min="0"
                step="any"
                inputMode="decimal"
                value={form.amount}
                disabled={!admin || saving || !form.on}
                onInput={(event) => model.edit({ amount: (event.currentTarget as HTMLInputElement).value })}
                aria-invalid={error ? true : undefined}
                aria-describedby={error ? "half-life-hint half-life-error" : "half-life-hint"}
              />
              <p id="half-life-hint" class="hint">
                e.g. 30 days, or 36 hours
              </p>
              <FieldError id="half-life-error" message={error ?? undefined} />
            </div>
            <div class="field">
              <label for="half-life-unit">Unit</label>
              <select
                id="half-life-unit"
                value={form.unit}
                disabled={!admin || saving || !form.on}
                onChange={(event) =>
                  model.edit({ unit: (event.currentTarget as HTMLSelectElement).value as HalfLifeUnit })
                }
              >
                {HALF_LIFE_UNITS.map((unit) => (
                  <option key={unit.value} value={unit.value}>
                    {unit.label}
                  </option>
                ))}
              </select>
            </div>
          </div>
          <div class="form-actions">
            <button type="submit" class="button button-primary" disabled={!admin || saving}>
              {saving ? "Saving and re-keying the scores…" : "Save"}
            </button>
          </div>
          <Saved model={model} />
        </form>
      )}
    </>
  );
}
