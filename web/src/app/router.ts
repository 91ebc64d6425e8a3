// A small router over the History API: the current URL is a signal, routes are matched by a pure function, and
// same-origin link clicks are turned into `navigate` calls by one delegated listener.
import { computed, type ReadonlySignal, signal } from "@preact/signals";

export type Route =
  | { name: "dashboard" }
  | { name: "lead"; id: string }
  | { name: "leaderboard" }
  | { name: "today" }
  | { name: "submit" }
  | { name: "rules" }
  | { name: "webhooks" }
  | { name: "settings" }
  | { name: "sign-in" }
  | { name: "not-found" };

export function matchRoute(pathname: string): Route {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, "") : pathname;
  if (path === "/" || path === "") return { name: "dashboard" };
  if (path === "/leaderboard") return { name: "leaderboard" };
  if (path === "/today") return { name: "today" };
  if (path === "/events/new") return { name: "submit" };
  if (path === "/rules") return { name: "rules" };
  if (path === "/webhooks") return { name: "webhooks" };
  if (path === "/settings") return { name: "settings" };
  if (path === "/sign-in") return { name: "sign-in" };
  const lead = path.match(/^\/leads\/([^/]+)$/);
  if (lead?.[1]) {
    try {
      return { name: "lead", id: decodeURIComponent(lead[1]) };
    } catch {
      return { name: "not-found" };
    }
  }
  return { name: "not-found" };
}

/** Where the sign-in page sends the user back to: a path of this app from `?next=`, else the dashboard. */
export function nextPath(search: string): string {
  const next = new URLSearchParams(search).get("next") ?? "";
  return next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/sign-in") ? next : "/";
}

export function leadHref(id: string): string {
  return `/leads/${encodeURIComponent(id)}`;
}

export interface RouterWindow {
  location: Pick<Location, "pathname" | "search" | "origin">;
  history: Pick<History, "pushState" | "replaceState">;
  addEventListener(type: "popstate", listener: () => void): void;
  removeEventListener(type: "popstate", listener: () => void): void;
  scrollTo?(x: number, y: number): void;
}

export interface Router {
  readonly pathname: ReadonlySignal<string>;
  readonly search: ReadonlySignal<string>;
  readonly route: ReadonlySignal<Route>;
  navigate(to: string, options?: { replace?: boolean }): void;
  /** Delegated click handler: follows same-origin links without a page load. */
  handleClick(event: MouseEvent): void;
  start(): () => void;
}

export function createRouter(win: RouterWindow): Router {
  const pathname = signal(win.location.pathname, { name: "router.pathname" });
  const search = signal(win.location.search, { name: "router.search" });
  const route = computed(() => matchRoute(pathname.value));
  const sync = () => {
    pathname.value = win.location.pathname;
    search.value = win.location.search;
  };

  const navigate = (to: string, options: { replace?: boolean } = {}) => {
    const url = new URL(to, win.location.origin);
    const samePage = url.pathname === pathname.value;
    if (options.replace) win.history.replaceState(null, "", url.pathname + url.search + url.hash);
    else win.history.pushState(null, "", url.pathname + url.search + url.hash);
    sync();
    if (!samePage && !options.replace) win.scrollTo?.(0, 0);
  };

  return {
    pathname,
    search,
    route,
    navigate,
    handleClick(event) {
      if (event.defaultPrevented || event.button !== 0) return;
      if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      const anchor = (event.target as Element | null)?.closest?.("a");
      if (!anchor || anchor.target || anchor.hasAttribute("download")) return;
      const href = anchor.getAttribute("href");
      if (!href || href.startsWith("#")) return;
      const url = new URL(anchor.href, win.location.origin);
      if (url.origin !== win.location.origin) return;
      // Server-side paths (API, metrics) are real documents, not views of this app.
      if (/^\/(api|metrics|healthz|readyz)(\/|$)/.test(url.pathname)) return;
      event.preventDefault();
      navigate(url.pathname + url.search + url.hash);
    },
    start() {
      win.addEventListener("popstate", sync);
      return () => win.removeEventListener("popstate", sync);
    },
  };
}
