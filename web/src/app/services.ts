// Everything the app shares: the API client, the one realtime connection, the router, the announcer, and the
// models that outlive a page visit (filters and forms are kept while the user moves around).

import { HeadlineModel } from "../headline/model.ts";
import { LeadDetailModel } from "../lead-detail/model.ts";
import { LeaderboardModel } from "../leaderboard/model.ts";
import { LeadsModel } from "../leads/model.ts";
import { type Announcer, createAnnouncer } from "../lib/announcer.ts";
import type { Api } from "../lib/api.ts";
import type { Realtime } from "../lib/realtime.ts";
import { createSessionValue, sessionStore } from "../lib/session-value.ts";
import { MovementsModel } from "../movements/model.ts";
import { RescoreBannerModel } from "../rescore-banner/model.ts";
import { SessionModel } from "../session/model.ts";
import { ScoringModel } from "../settings/model.ts";
import { SubmitEventModel } from "../submit-event/model.ts";
import type { Router } from "./router.ts";

export interface Services {
  api: Api;
  realtime: Realtime;
  router: Router;
  announcer: Announcer;
  session: SessionModel;
  headline: HeadlineModel;
  leads: LeadsModel;
  leaderboard: LeaderboardModel;
  /** The "Today" page: leads that entered each stage in the last 24 hours or 7 days. */
  movements: MovementsModel;
  /** The headline's count of leads that became qualified in the last 24 hours. */
  qualifiedToday: MovementsModel;
  submitEvent: SubmitEventModel;
  /** The half-life of score decay, and the one clock every decaying score is shown by. */
  scoring: ScoringModel;
  /** The banner of a running re-score, on every page. */
  rescoreBanner: RescoreBannerModel;
  /** The detail model of a lead, kept while the same lead is shown. */
  leadDetail(id: string): LeadDetailModel;
}

export function createServices(deps: {
  api: Api;
  realtime: Realtime;
  router: Router;
  storage?: Storage | null;
  announcer?: Announcer;
  /** The reader's session; by default one kept in `storage` (this tab only), checked with `api`. */
  session?: SessionModel;
}): Services {
  const { api, realtime, router } = deps;
  const storage = deps.storage === undefined ? sessionStore() : deps.storage;
  const announcer = deps.announcer ?? createAnnouncer();
  const announce = (text: string) => announcer.announce(text);
  let detail: LeadDetailModel | null = null;
  const session =
    deps.session ??
    new SessionModel({
      stores: { tab: storage, browser: null, channel: null },
      verify: (token) => api.checkToken(token),
    });
  // Every admin action sends the session's token when it is the admin token: one sign-in unlocks them all.
  const adminToken = session.adminToken;
  const scoring = new ScoringModel({ api, adminToken });
  const decay = scoring.decay;
  return {
    api,
    realtime,
    router,
    announcer,
    session,
    headline: new HeadlineModel({ api, realtime }),
    movements: new MovementsModel({ api, realtime }),
    qualifiedToday: new MovementsModel({ api, realtime, stage: "qualified" }),
    scoring,
    leads: new LeadsModel({
      api,
      realtime,
      announce,
      decay,
      url: {
        read: () => router.search.value,
        write: (search) => {
          if (router.route.value.name === "dashboard" && search !== router.search.value) {
            router.navigate(`/${search}`, { replace: true });
          }
        },
      },
    }),
    leaderboard: new LeaderboardModel({ api, realtime, announce, decay }),
    rescoreBanner: new RescoreBannerModel({ api }),
    submitEvent: new SubmitEventModel({ api, writeKey: createSessionValue("leadscore.write-key", storage) }),
    leadDetail(id) {
      if (detail?.id.value !== id) {
        // The page of the lead before stops reacting: its listeners, room and timers go with it.
        detail?.[Symbol.dispose]();
        detail = new LeadDetailModel({ api, realtime, announce, adminToken, decay }, id);
      }
      return detail;
    },
  };
}
