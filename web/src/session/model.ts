// The reader's session: one sign-in per browser. The access token (a read token, or the admin token) is typed once on
// the sign-in page, sent on every read and on the socket; the admin token also unlocks every admin action.
//
// Where it is kept: a read token in localStorage, shared by every tab until sign-out (it only reads, and the page's
// Content-Security-Policy runs no script but the app's own). The admin token writes, so it stays in the tab's
// sessionStorage and is handed to the browser's other tabs over a BroadcastChannel (same origin only): a tab opened
// later asks the open ones. It is in localStorage only when the user ticks "remember". A read refused with 401 ends
// the session; signing out in one tab signs out every tab.
import { batch, computed, createModel, effect, signal } from "@preact/signals";
import { type AccessRole, ApiRequestError } from "../lib/api.ts";
import { timeout } from "../lib/reactions.ts";

export type Role = AccessRole;

export interface StoredSession {
  token: string;
  role: Role;
}

export const SESSION_KEY = "leadscore.session";
export const DEV_READ_TOKEN_HINT = "dev-read-token";
export const DEV_ADMIN_TOKEN_HINT = "dev-admin-token";
export const REFUSED_MESSAGE = "That access token was refused. Check it and try again.";
export const EXPIRED_MESSAGE = "Your access token is no longer accepted. Sign in again.";
/** How long a new tab waits for an open tab to hand over its session before it shows the sign-in page. */
export const ASK_TABS_MS = 300;

type KeyValueStore = Pick<Storage, "getItem" | "setItem" | "removeItem">;

/** What tabs say to each other: a session taken (or handed over on request), a question, a sign-out. */
export type SessionMessage =
  | { type: "ask" }
  | { type: "session"; session: StoredSession; answer: boolean }
  | { type: "signed-out" };

export interface TabChannel {
  postMessage(message: SessionMessage): void;
  addEventListener(type: "message", listener: (event: { data: SessionMessage }) => void): void;
  removeEventListener(type: "message", listener: (event: { data: SessionMessage }) => void): void;
}

export interface SessionStores {
  /** This tab's (sessionStorage): survives a reload, not a new tab. */
  tab: KeyValueStore | null;
  /** The browser's (localStorage): every tab, until sign-out. */
  browser: KeyValueStore | null;
  /** The browser's other tabs of this origin (a BroadcastChannel). */
  channel: TabChannel | null;
}

function read(store: KeyValueStore | null): StoredSession | null {
  try {
    const text = store?.getItem(SESSION_KEY);
    if (!text) return null;
    const value = JSON.parse(text) as Partial<StoredSession>;
    if (typeof value.token !== "string" || value.token === "") return null;
    return { token: value.token, role: value.role === "admin" ? "admin" : "read" };
  } catch {
    return null;
  }
}

function write(store: KeyValueStore | null, session: StoredSession | null) {
  try {
    if (session) store?.setItem(SESSION_KEY, JSON.stringify(session));
    else store?.removeItem(SESSION_KEY);
  } catch {
    // storage disabled (privacy mode): the session lives in memory only
  }
}

/** The reader's session, shared with the browser's other tabs while the model lives. */
export const SessionModel = createModel(
  (deps: {
    stores: SessionStores;
    /** Resolves with what the token may do; throws the API's refusal otherwise. */
    verify: (token: string) => Promise<Role>;
    /** How long a new tab asks the open ones (ASK_TABS_MS). */
    askMs?: number;
  }) => {
    const { tab, browser, channel } = deps.stores;
    const fromTab = read(tab);
    const initial = fromTab ?? read(browser);
    const current = signal<StoredSession | null>(initial, { name: "session.current" });
    const draft = signal("", { name: "session.draft" });
    const remember = signal(false, { name: "session.remember" });
    const message = signal<string | null>(null, { name: "session.message" });
    const checking = signal(false, { name: "session.checking" });
    const resolving = signal(initial === null && channel !== null, { name: "session.resolving" });

    /** Takes a session in this tab; `shared` also keeps it for the browser's tabs to come. */
    const take = (session: StoredSession | null, keepInBrowser: boolean) => {
      batch(() => {
        current.value = session;
        resolving.value = false;
      });
      write(tab, session);
      if (keepInBrowser) write(browser, session);
    };

    function onMessage({ data }: { data: SessionMessage }) {
      const mine = current.value;
      if (data.type === "ask") {
        if (mine) channel?.postMessage({ type: "session", session: mine, answer: true });
      } else if (data.type === "session") {
        // A sign-in in another tab is this browser's sign-in; an answer only fills a gap or raises a read session.
        if (!data.answer || mine === null || (mine.role === "read" && data.session.role === "admin")) {
          take(data.session, false);
          message.value = null;
        }
      } else if (data.type === "signed-out") {
        take(null, false);
        message.value = null;
      }
    }
    effect(() => {
      if (!channel) return;
      channel.addEventListener("message", onMessage);
      return () => channel.removeEventListener("message", onMessage);
    });
    // A tab of its own (not a reload) asks the open ones: they may hold an admin session this browser did not keep.
    if (fromTab === null && channel) channel.postMessage({ type: "ask" });
    effect(() => {
      if (resolving.value) return timeout(() => (resolving.value = false), deps.askMs ?? ASK_TABS_MS);
    });

    const token = computed(() => current.value?.token ?? "");
    const role = computed(() => current.value?.role ?? null);
    return {
      /** The token in use; "" when signed out. */
      token,
      role,
      signedIn: computed(() => token.value !== ""),
      /** The token when it is the admin token, else "": what admin actions send. */
      adminToken: computed(() => (role.value === "admin" ? token.value : "")),
      /** True while a new tab waits for an open tab's session, before it would show the sign-in page. */
      resolving,
      /** The sign-in field. */
      draft,
      /** Keep the admin token in this browser until sign-out, not only while its tabs are open. */
      remember,
      /** Why the sign-in page is shown, or why the last attempt failed. */
      message,
      checking,
      /** Checks the draft; resolves with the role it signed in with, or null when it did not. */
      async signIn(): Promise<Role | null> {
        const candidate = draft.value.trim();
        if (!candidate) {
          message.value = `Enter the access token (in development: ${DEV_READ_TOKEN_HINT}, or ${DEV_ADMIN_TOKEN_HINT} for admin)`;
          return null;
        }
        if (checking.value) return null;
        checking.value = true;
        try {
          const granted = await deps.verify(candidate);
          const session: StoredSession = { token: candidate, role: granted };
          batch(() => {
            take(session, false);
            draft.value = "";
            message.value = null;
          });
          // The admin token goes to the browser's storage only when asked to; otherwise no token is left there.
          write(browser, granted === "read" || remember.value ? session : null);
          channel?.postMessage({ type: "session", session, answer: false });
          return granted;
        } catch (failure) {
          const refused = failure instanceof ApiRequestError && failure.status === 401;
          message.value = refused ? REFUSED_MESSAGE : (failure as Error).message;
          return null;
        } finally {
          checking.value = false;
        }
      },
      signOut() {
        take(null, true);
        message.value = null;
        channel?.postMessage({ type: "signed-out" });
      },
      /** A read was refused with this session's token: back to the sign-in page, saying why. */
      expire() {
        if (current.value === null) return;
        const stale = current.value.token;
        take(null, false);
        if (read(browser)?.token === stale) write(browser, null);
        message.value = EXPIRED_MESSAGE;
      },
    };
  },
);
export type SessionModel = InstanceType<typeof SessionModel>;

/** The browser's stores: sessionStorage, localStorage and a BroadcastChannel, each when the browser allows it. */
export function browserSessionStores(): SessionStores {
  const store = (name: "sessionStorage" | "localStorage"): KeyValueStore | null => {
    try {
      return globalThis[name] ?? null;
    } catch {
      return null;
    }
  };
  let channel: TabChannel | null = null;
  try {
    if (typeof BroadcastChannel === "function") channel = new BroadcastChannel(SESSION_KEY) as unknown as TabChannel;
  } catch {
    channel = null;
  }
  return { tab: store("sessionStorage"), browser: store("localStorage"), channel };
}
