import { useEffect, useLayoutEffect, useRef } from "preact/hooks";
import { leadHref } from "../app/router.ts";
import { Empty, ErrorState, Loading, PageTitle, StageBadge } from "../app/ui.tsx";
import { shownScore } from "../lib/decay.ts";
import { formatInteger } from "../lib/format.ts";
import type { LeaderboardModel, RankedEntry } from "./model.ts";

function reducedMotion(): boolean {
  return typeof matchMedia === "function" && matchMedia("(prefers-reduced-motion: reduce)").matches;
}

/**
 * Rows glide from their old place to their new one (FLIP: measure, invert with a transform, let it transition back),
 * slowly enough to follow and not at all when the user asks for reduced motion.
 */
function useRankMotion(ref: { current: HTMLOListElement | null }, order: string) {
  const positions = useRef(new Map<string, number>());
  useLayoutEffect(() => {
    const list = ref.current;
    if (!list) return;
    const rows = [...list.querySelectorAll<HTMLElement>("[data-id]")];
    const before = positions.current;
    const after = new Map(rows.map((row) => [row.dataset.id as string, row.offsetTop]));
    positions.current = after;
    if (before.size === 0 || reducedMotion()) return;
    for (const row of rows) {
      const was = before.get(row.dataset.id as string);
      const now = after.get(row.dataset.id as string) ?? 0;
      if (was === undefined || was === now) continue;
      row.style.transition = "none";
      row.style.transform = `translateY(${was - now}px)`;
      // Read layout so the start position is committed before the transition back begins.
      void row.offsetHeight;
      row.style.transition = "";
      row.style.transform = "";
    }
  }, [ref, order]);
}

function Movement({ movement }: { movement: number | null }) {
  const [symbol, text, tone] =
    movement === null
      ? ["new", "new in the top", "new"]
      : movement > 0
        ? [`▲${movement}`, `up ${movement}`, "up"]
        : movement < 0
          ? [`▼${-movement}`, `down ${-movement}`, "down"]
          : ["–", "no change", "same"];
  return (
    <span class={`move move-${tone}`}>
      <span aria-hidden="true">{symbol}</span>
      <span class="sr-only">{text}</span>
    </span>
  );
}

export function LeaderboardList({ entries, compact = false }: { entries: readonly RankedEntry[]; compact?: boolean }) {
  const ref = useRef<HTMLOListElement>(null);
  useRankMotion(ref, entries.map((entry) => entry._id).join(","));
  const top = entries[0]?.current_score || 1;
  return (
    <ol ref={ref} class={compact ? "board board-compact" : "board"}>
      {entries.map((entry) => (
        <li key={entry._id} data-id={entry._id} class="board-row">
          <span class="board-rank" aria-hidden="true">
            {entry.rank}
          </span>
          <span class="board-who">
            <a href={leadHref(entry._id)}>{entry.name || entry._id}</a>
            {compact ? null : <span class="muted board-company">{entry.company || "—"}</span>}
          </span>
          {compact ? null : (
            <span class="board-bar" aria-hidden="true">
              <span style={{ width: `${Math.max(2, (entry.current_score / top) * 100)}%` }} />
            </span>
          )}
          <span class="board-score">
            <span class="sr-only">rank {entry.rank}, score </span>
            {formatInteger(shownScore(entry.current_score))}
          </span>
          {compact ? null : <StageBadge stage={entry.stage} />}
          {compact ? null : <Movement movement={entry.movement} />}
        </li>
      ))}
    </ol>
  );
}

export function LeaderboardBody({ model, compact = false }: { model: LeaderboardModel; compact?: boolean }) {
  const status = model.status.value;
  const entries = model.shownTop.value;
  if (status === "loading") return <Loading label="Loading the leaderboard…" />;
  if (status === "error") {
    return (
      <ErrorState
        title="The leaderboard could not be loaded."
        message={model.error.value}
        onRetry={() => void model.reload()}
      />
    );
  }
  if (entries.length === 0) {
    return (
      <Empty>
        <p>No scored leads yet.</p>
      </Empty>
    );
  }
  return <LeaderboardList entries={compact ? entries.slice(0, 5) : entries} compact={compact} />;
}

export function LeaderboardPage({ model }: { model: LeaderboardModel }) {
  useEffect(() => model.activate({ paged: true }), [model]);
  const tied = model.tiedAtTop.value;
  const page = model.pageNumber.value;
  return (
    <>
      <PageTitle title="Leaderboard">Leaderboard</PageTitle>
      <p class="lede">
        The highest-scoring leads, the top ten updated live as events are scored. Ties go to whoever got there first.
      </p>
      {tied ? (
        <p class="alert tie-note" role="status">
          {formatInteger(tied.count)} leads at {formatInteger(tied.score)}
          {tied.count > 10 ? "; the pages below show them all, first to get there first." : "."}
        </p>
      ) : null}
      <section class="panel" aria-label={page === 1 ? "Top ten leads" : `Leads ranked ${(page - 1) * 10 + 1} and on`}>
        {page === 1 ? (
          <LeaderboardBody model={model} />
        ) : model.pageLoading.value ? (
          <Loading label="Loading the leaderboard…" />
        ) : (
          <LeaderboardList entries={model.shownEntries.value} />
        )}
        {model.hasNext.value || page > 1 ? (
          <nav class="pager" aria-label="Pages of the leaderboard">
            <button
              type="button"
              class="button"
              disabled={page === 1 || model.pageLoading.value}
              onClick={() => void model.showPreviousPage()}
            >
              ← Previous
            </button>
            <span class="muted">Page {page}</span>
            <button
              type="button"
              class="button"
              disabled={!model.hasNext.value || model.pageLoading.value}
              onClick={() => void model.showNextPage()}
            >
              Next →
            </button>
          </nav>
        ) : null}
      </section>
    </>
  );
}
