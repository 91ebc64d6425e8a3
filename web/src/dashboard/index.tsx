import { useEffect } from "preact/hooks";
import { PageTitle } from "../app/ui.tsx";
import { Headline } from "../headline/index.tsx";
import type { HeadlineModel } from "../headline/model.ts";
import { LeaderboardBody } from "../leaderboard/index.tsx";
import type { LeaderboardModel } from "../leaderboard/model.ts";
import { LeadTable } from "../leads/index.tsx";
import type { LeadsModel } from "../leads/model.ts";
import { TodayLink } from "../movements/index.tsx";
import type { MovementsModel } from "../movements/model.ts";

export function DashboardPage(props: {
  headline: HeadlineModel;
  today: MovementsModel;
  leads: LeadsModel;
  leaderboard: LeaderboardModel;
}) {
  useEffect(() => props.leaderboard.activate(), [props.leaderboard]);
  return (
    <div class="dashboard">
      <PageTitle title="Dashboard">Dashboard</PageTitle>
      <Headline
        model={props.headline}
        selectedStage={props.leads.filters.value.stage}
        onStage={(stage) => props.leads.setFilter("stage", stage)}
        selectedRange={props.leads.scoreRange.value}
        onRange={(range) => props.leads.setScoreRange(range)}
        today={<TodayLink model={props.today} />}
      />
      <div class="dashboard-grid">
        <LeadTable model={props.leads} />
        <section class="panel" aria-labelledby="top-title">
          <div class="panel-head">
            <h2 id="top-title">Top 5</h2>
            <a href="/leaderboard">Full leaderboard</a>
          </div>
          <LeaderboardBody model={props.leaderboard} compact />
        </section>
      </div>
    </div>
  );
}
