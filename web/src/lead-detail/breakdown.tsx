import { Empty, ErrorState, Loading } from "../app/ui.tsx";
import type { Breakdown } from "../lib/api.ts";
import { shownScore } from "../lib/decay.ts";
import { formatInteger, formatSigned } from "../lib/format.ts";
import type { LeadDetailModel, OutcomeLine, RuleNames } from "./model.ts";

/** A table of figures whose first column names each row. */
function FigureTable({
  name,
  label,
  columns,
  rows,
}: {
  name: string;
  label: string;
  columns: readonly string[];
  rows: readonly { key: string; cells: readonly string[] }[];
}) {
  return (
    <div class="table-scroll">
      <table class={`table ${name}`}>
        <caption>{label}</caption>
        <thead>
          <tr>
            {columns.map((column) => (
              <th key={column} scope="col">
                {column}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.key}>
              {row.cells.map((cell, index) =>
                index === 0 ? (
                  <th key={columns[index]} scope="row">
                    {cell}
                  </th>
                ) : (
                  <td key={columns[index]}>{cell}</td>
                ),
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** `decayedTo`: with score decay, the score now, which has fallen from the points the rules gave since the last event. */
function Tables({ breakdown, names, decayedTo }: { breakdown: Breakdown; names: RuleNames; decayedTo: number | null }) {
  const ruleTotal = breakdown.rules.reduce((sum, rule) => sum + rule.points, 0);
  const groupLabel = (id: string | null) => (id === null ? "—" : (names.groups.get(id)?.label ?? id));
  const groupMax = (id: string) => names.groups.get(id)?.max;
  return (
    <>
      <p data-testid="breakdown-total">
        <strong>{formatInteger(shownScore(breakdown.score))}</strong> points: {breakdown.rules.length} rule
        {breakdown.rules.length === 1 ? "" : "s"} gave {formatSigned(ruleTotal)}
        {breakdown.unmatched > 0 ? `; ${formatInteger(breakdown.unmatched)} events matched no rule` : ""}.
        {decayedTo !== null && shownScore(decayedTo) < shownScore(breakdown.score) ? (
          <span data-testid="breakdown-decayed">
            {" "}
            Decayed since the last event to {formatInteger(shownScore(decayedTo))} now.
          </span>
        ) : null}
        {breakdown.rules_version !== null ? <span class="muted"> Rules version {breakdown.rules_version}.</span> : null}
      </p>
      {breakdown.groups.length > 0 ? (
        <FigureTable
          name="breakdown-groups"
          label="Points by group"
          columns={["Group", "Points", "Max", "Events"]}
          rows={breakdown.groups.map((group) => ({
            key: group.group,
            cells: [
              groupLabel(group.group),
              formatSigned(group.points),
              groupMax(group.group) !== undefined ? formatInteger(groupMax(group.group) as number) : "—",
              formatInteger(group.events),
            ],
          }))}
        />
      ) : null}
      <FigureTable
        name="breakdown-rules"
        label="Points by rule"
        columns={["Rule", "Group", "Points", "Events"]}
        rows={breakdown.rules.map((rule) => ({
          key: rule.rule_id,
          cells: [
            names.rules.get(rule.rule_id) ?? rule.rule_id,
            groupLabel(rule.group),
            formatSigned(rule.points),
            formatInteger(rule.events),
          ],
        }))}
      />
    </>
  );
}

/** "Why this score?": the lead's score by group and by rule. */
export function WhyThisScore({ model }: { model: LeadDetailModel }) {
  const breakdown = model.breakdown.value;
  const status = model.breakdownStatus.value;
  return (
    <section class="panel" aria-labelledby="why-title">
      <h2 id="why-title">Why this score?</h2>
      {breakdown && breakdown.rules.length > 0 ? (
        <Tables
          breakdown={breakdown}
          names={model.labels.value}
          decayedTo={model.halfLife.value === null ? null : (model.shownLead.value?.current_score ?? null)}
        />
      ) : null}
      {breakdown && breakdown.rules.length === 0 ? (
        <Empty>
          <p>
            No rule has given this lead a point yet
            {breakdown.unmatched > 0 ? ` (${formatInteger(breakdown.unmatched)} events matched no rule)` : ""}.
          </p>
        </Empty>
      ) : null}
      {!breakdown && status === "loading" ? <Loading label="Loading the breakdown…" /> : null}
      {!breakdown && status === "error" ? (
        <ErrorState
          title="The breakdown could not be loaded."
          message={model.breakdownError.value}
          onRetry={() => void model.reload()}
        />
      ) : null}
    </section>
  );
}

/** The rules a history entry matched: points asked and given, and why any were cut. */
export function EntryRules({ lines }: { lines: readonly OutcomeLine[] }) {
  return (
    <ul class="entry-rules" aria-label="Matched rules">
      {lines.map((line) => (
        <li key={line.rule_id} class={line.given !== line.asked ? "cut" : undefined}>
          {line.name === null ? (
            <span class="entry-rule-name muted" title="Reading the rule's name">
              …
            </span>
          ) : (
            <span class="entry-rule-name">{line.name}</span>
          )}{" "}
          {line.given === line.asked ? (
            formatSigned(line.given)
          ) : (
            <>
              {formatSigned(line.given)} <span class="muted">of {formatSigned(line.asked)} asked</span>
            </>
          )}
          {line.cuts.length > 0 ? <span class="muted"> ({line.cuts.join("; ")})</span> : null}
        </li>
      ))}
    </ul>
  );
}
