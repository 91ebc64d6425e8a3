import { useEffect } from "preact/hooks";
import { leadHref } from "../app/router.ts";
import { Empty, ErrorState, Loading, PageTitle, StageBadge } from "../app/ui.tsx";
import type { Movement } from "../lib/api.ts";
import { shownScore } from "../lib/decay.ts";
import { formatAge, formatDateTime, formatInteger } from "../lib/format.ts";
import { isRise, MOVEMENT_WINDOWS, MOVEMENTS_SHOWN, type MovementsModel, type MovementWindow } from "./model.ts";

const WINDOW_LABELS: Record<MovementWindow, string> = { "24h": "Last 24 h", "7d": "Last 7 days" };

function MovementRow({ movement, now }: { movement: Movement; now: number }) {
  return (
    <tr data-testid="movement">
      <td>
        <a href={leadHref(movement.lead_id)}>{movement.lead_id}</a>
      </td>
      <td class="movement-move">
        <StageBadge stage={movement.from} /> <span aria-hidden="true">{isRise(movement) ? "↗" : "↘"}</span>
        <span class="sr-only"> to </span> <StageBadge stage={movement.to} />
        <span class="muted"> at {formatInteger(shownScore(movement.score))}</span>
      </td>
      <td>
        <span class="movement-event">{movement.event_type}</span>{" "}
        <span class="muted" title={`Event time ${formatDateTime(movement.timestamp)}`}>
          {movement.event_id}
        </span>
      </td>
      <td title={formatDateTime(movement.at)}>{formatAge(movement.at, now)}</td>
    </tr>
  );
}

/** "Today": the leads that entered each stage in the last 24 hours or 7 days, qualified first. */
export function MovementsPage({ model }: { model: MovementsModel }) {
  useEffect(() => model.activate(), [model]);
  const status = model.status.value;
  const now = Date.now();
  return (
    <div class="movements">
      <PageTitle title="Today">Today</PageTitle>
      <p class="muted">Leads that entered each stage, newest first, with the event that moved them.</p>
      <div class="tabs" role="tablist" aria-label="Period">
        {MOVEMENT_WINDOWS.map((window) => (
          <button
            key={window}
            type="button"
            role="tab"
            class="tab"
            aria-selected={model.window.value === window}
            onClick={() => model.setWindow(window)}
          >
            {WINDOW_LABELS[window]}
          </button>
        ))}
      </div>
      {status === "error" ? (
        <ErrorState
          title="The movements could not be loaded."
          message={model.error.value}
          onRetry={() => void model.refresh()}
        />
      ) : status === "loading" ? (
        <Loading label="Loading movements…" />
      ) : (
        <div role="tabpanel">
          {model.more.value ? (
            <p class="muted">Showing the newest {formatInteger(MOVEMENTS_SHOWN)} movements of the period.</p>
          ) : null}
          {model.groups.value.map((group) => (
            <section key={group.stage} class="panel movement-group" aria-labelledby={`entered-${group.stage}`}>
              <h2 id={`entered-${group.stage}`}>
                Became {group.stage} <span class="muted">({formatInteger(group.movements.length)})</span>
              </h2>
              {group.movements.length === 0 ? (
                <Empty>No lead entered {group.stage} in this period.</Empty>
              ) : (
                <div class="table-scroll">
                  <table class="table">
                    <thead>
                      <tr>
                        <th scope="col">Lead</th>
                        <th scope="col">Stage</th>
                        <th scope="col">Event that moved it</th>
                        <th scope="col">When</th>
                      </tr>
                    </thead>
                    <tbody>
                      {group.movements.map((movement) => (
                        <MovementRow
                          key={`${movement.lead_id}:${movement.at}:${movement.event_id}`}
                          movement={movement}
                          now={now}
                        />
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </section>
          ))}
        </div>
      )}
    </div>
  );
}

/** The headline's link to "Today": how many leads became qualified in the last 24 hours. */
export function TodayLink({ model }: { model: MovementsModel }) {
  useEffect(() => model.activate(), [model]);
  if (model.status.value !== "ready") return null;
  const count = model.leadCount.value;
  const text =
    count === 0
      ? "No lead became qualified today"
      : `${model.more.value ? `${formatInteger(count)}+` : formatInteger(count)} ${count === 1 ? "lead" : "leads"} became qualified today`;
  return (
    <p class="today-link">
      <a href="/today">{text}</a>
    </p>
  );
}
