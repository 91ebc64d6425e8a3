import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { DashboardPage } from "../dashboard/index.tsx";
import { LeadDetailPage } from "../lead-detail/index.tsx";
import { LeaderboardPage } from "../leaderboard/index.tsx";
import { MovementsPage } from "../movements/index.tsx";
import { NotFoundPage } from "../not-found/index.tsx";
import { RescoreBanner } from "../rescore-banner/index.tsx";
import { SignInPage, SignOutButton } from "../session/index.tsx";
import type { ScoringModel } from "../settings/model.ts";
import { SubmitEventPage } from "../submit-event/index.tsx";
import { nextPath, type Route } from "./router.ts";
import type { Services } from "./services.ts";
import { ErrorState, Loading } from "./ui.tsx";

const NAV: { href: string; label: string; route: Route["name"] }[] = [
  { href: "/", label: "Dashboard", route: "dashboard" },
  { href: "/today", label: "Today", route: "today" },
  { href: "/leaderboard", label: "Leaderboard", route: "leaderboard" },
  { href: "/events/new", label: "Submit event", route: "submit" },
  { href: "/rules", label: "Rules", route: "rules" },
  { href: "/webhooks", label: "Webhooks", route: "webhooks" },
  { href: "/settings", label: "Settings", route: "settings" },
];

/**
 * A page fetched on its first visit: admin pages most visits never open (rules, webhooks) stay out of the first
 * load. Each is rendered with a key of its own, so going from one to the other never shows one's module as the other.
 */
function LazyPage<M>({
  name,
  load,
  render,
}: {
  name: string;
  load: () => Promise<M>;
  render: (module: M) => ComponentChildren;
}) {
  const [module, setModule] = useState<{ loaded: M } | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  useEffect(() => {
    load().then(
      (loaded) => setModule({ loaded }),
      (error: Error) => setFailed(error.message),
    );
  }, [load]);
  if (failed) return <ErrorState title={`The ${name} page could not be loaded.`} message={failed} />;
  if (!module) return <Loading label="Loading…" />;
  return <>{render(module.loaded)}</>;
}

const loadWebhooks = () => import("../webhooks/index.tsx");
const loadRules = () => import("../rules/index.tsx");
const loadSettings = () => import("../settings/index.tsx");

/** The sign-in page; from `/sign-in?next=…` it goes on to that page once the token is accepted. */
function SignIn({ services }: { services: Services }) {
  const { router, session } = services;
  return (
    <SignInPage
      model={session}
      onSignedIn={() => {
        if (router.route.value.name === "sign-in") router.navigate(nextPath(router.search.value), { replace: true });
      }}
    />
  );
}

/** "Scores halve every 30 days" in the header while decay is on. */
function DecayNote({ model }: { model: ScoringModel }) {
  const text = model.headline.value;
  return text ? (
    <p class="decay-note" title="Score decay: every score falls continuously between events">
      {text}
    </p>
  ) : null;
}

const STATUS_TEXT = { live: "Live", connecting: "Connecting…", offline: "Offline — retrying" } as const;

function Page({ services }: { services: Services }) {
  const route = services.router.route.value;
  switch (route.name) {
    case "dashboard":
      return (
        <DashboardPage
          headline={services.headline}
          today={services.qualifiedToday}
          leads={services.leads}
          leaderboard={services.leaderboard}
        />
      );
    case "today":
      return <MovementsPage model={services.movements} />;
    case "lead":
      return <LeadDetailPage key={route.id} model={services.leadDetail(route.id)} />;
    case "leaderboard":
      return <LeaderboardPage model={services.leaderboard} />;
    case "submit":
      return <SubmitEventPage model={services.submitEvent} />;
    case "rules":
      return (
        <LazyPage
          key="rules"
          name="Rules"
          load={loadRules}
          render={(module) => <module.RulesScreen api={services.api} token={services.session.adminToken} />}
        />
      );
    case "webhooks":
      return (
        <LazyPage
          key="webhooks"
          name="Webhooks"
          load={loadWebhooks}
          render={(module) => <module.WebhooksScreen api={services.api} token={services.session.adminToken} />}
        />
      );
    case "settings":
      return (
        <LazyPage
          key="settings"
          name="Settings"
          load={loadSettings}
          render={(module) => (
            <module.SettingsScreen model={services.scoring} admin={services.session.adminToken.value !== ""} />
          )}
        />
      );
    case "sign-in":
      return <SignIn services={services} />;
    default:
      return <NotFoundPage path={services.router.pathname.value} />;
  }
}

export function App({ services }: { services: Services }) {
  const { router, realtime, announcer } = services;
  useEffect(() => router.start(), [router]);
  useEffect(() => {
    const onClick = (event: MouseEvent) => router.handleClick(event);
    document.addEventListener("click", onClick);
    return () => document.removeEventListener("click", onClick);
  }, [router]);

  const current = router.route.value.name;
  const status = realtime.status.value;
  const { session, scoring } = services;
  const signedIn = session.signedIn.value;
  // The half-life is read once signed in: the header and every score shown depend on it.
  useEffect(() => {
    if (signedIn) void scoring.load();
  }, [scoring, signedIn]);
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="site-header">
        <a class="brand" href="/" aria-label="Leadscore home">
          <span class="brand-mark" aria-hidden="true">
            ◆
          </span>
          Leadscore
        </a>
        {session.signedIn.value ? (
          <>
            <nav aria-label="Main">
              <ul class="nav-list">
                {NAV.map((item) => (
                  <li key={item.href}>
                    <a
                      href={item.href}
                      class="nav-link"
                      aria-current={
                        current === item.route || (item.route === "dashboard" && current === "lead")
                          ? "page"
                          : undefined
                      }
                    >
                      {item.label}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
            <p class={`live-status live-${status}`} title="Live updates over Socket.io">
              <span class="live-dot" aria-hidden="true" />
              <span>{STATUS_TEXT[status]}</span>
            </p>
            <DecayNote model={scoring} />
            {session.role.value === "admin" ? <span class="role-badge">Admin</span> : null}
            <SignOutButton model={session} />
          </>
        ) : null}
      </header>
      {session.signedIn.value ? <RescoreBanner model={services.rescoreBanner} /> : null}
      <main id="main" tabIndex={-1}>
        {session.signedIn.value ? (
          <Page services={services} />
        ) : session.resolving.value ? (
          <Loading label="Signing in…" />
        ) : (
          <SignIn services={services} />
        )}
      </main>
      <div class="sr-only" aria-live="polite" aria-atomic="true">
        {announcer.message.value}
      </div>
    </>
  );
}
