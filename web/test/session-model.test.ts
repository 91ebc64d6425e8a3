// @vitest-environment happy-dom
import { describe, expect, it, vi } from "vitest";
import { type AccessRole, ApiRequestError } from "../src/lib/api.ts";
import {
  EXPIRED_MESSAGE,
  REFUSED_MESSAGE,
  SESSION_KEY,
  type SessionMessage,
  SessionModel,
  type TabChannel,
} from "../src/session/model.ts";

function memoryStore() {
  const entries = new Map<string, string>();
  return {
    entries,
    getItem: (key: string) => entries.get(key) ?? null,
    setItem: (key: string, value: string) => void entries.set(key, value),
    removeItem: (key: string) => void entries.delete(key),
  };
}

/** A browser: one localStorage, and a channel that delivers each tab's messages to the others, synchronously. */
function fakeBrowser() {
  const local = memoryStore();
  const listeners: { owner: TabChannel; listener: (event: { data: SessionMessage }) => void }[] = [];
  const tokens: Record<string, AccessRole> = { "read-1": "read", "read-2": "read", "admin-1": "admin" };
  const verify = vi.fn(async (token: string) => {
    const role = tokens[token];
    if (!role) throw new ApiRequestError(401, "UNAUTHORIZED", "the read token is not valid");
    return role;
  });
  function openTab(sessionStorage = memoryStore()) {
    const channel: TabChannel = {
      postMessage(data) {
        for (const entry of listeners) if (entry.owner !== channel) entry.listener({ data });
      },
      addEventListener(_type, listener) {
        listeners.push({ owner: channel, listener });
      },
      removeEventListener(_type, listener) {
        const at = listeners.findIndex((entry) => entry.owner === channel && entry.listener === listener);
        if (at >= 0) listeners.splice(at, 1);
      },
    };
    const session = new SessionModel({ stores: { tab: sessionStorage, browser: local, channel }, verify, askMs: 20 });
    return { session, sessionStorage };
  }
  return { local, verify, openTab };
}

const stored = (store: { entries: Map<string, string> }) => {
  const text = store.entries.get(SESSION_KEY);
  return text ? JSON.parse(text) : null;
};

describe("the session", () => {
  it("remembers a read token for every tab of the browser, and forgets it on sign-out in any of them", async () => {
    const browser = fakeBrowser();
    const first = browser.openTab().session;
    expect(first.signedIn.value).toBe(false);
    first.draft.value = " read-1 ";
    expect(await first.signIn()).toBe("read");
    expect(browser.verify).toHaveBeenCalledWith("read-1");
    expect(first.role.value).toBe("read");
    expect(first.adminToken.value).toBe("");
    expect(stored(browser.local)).toEqual({ token: "read-1", role: "read" });
    expect(first.draft.value).toBe("");

    // A tab opened later (Ctrl+click: no copy of sessionStorage) is signed in at once.
    const second = browser.openTab().session;
    expect(second.token.value).toBe("read-1");
    expect(second.resolving.value).toBe(false);

    second.signOut();
    expect(second.signedIn.value).toBe(false);
    expect(first.signedIn.value).toBe(false);
    expect(browser.local.entries.has(SESSION_KEY)).toBe(false);
  });

  it("keeps the admin token out of the browser's storage unless asked, and hands it to new tabs while one is open", async () => {
    const browser = fakeBrowser();
    const first = browser.openTab();
    first.session.draft.value = "admin-1";
    expect(await first.session.signIn()).toBe("admin");
    expect(first.session.adminToken.value).toBe("admin-1");
    expect(stored(first.sessionStorage)).toEqual({ token: "admin-1", role: "admin" });
    expect(browser.local.entries.has(SESSION_KEY)).toBe(false);

    const second = browser.openTab().session;
    expect(second.adminToken.value).toBe("admin-1");

    // With no tab open to ask, a new tab waits a moment, then asks for a sign-in.
    const alone = fakeBrowser().openTab().session;
    expect(alone.resolving.value).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(alone.resolving.value).toBe(false);
    expect(alone.signedIn.value).toBe(false);
  });

  it("keeps the admin token in the browser when asked to remember it", async () => {
    const browser = fakeBrowser();
    const tab = browser.openTab().session;
    tab.remember.value = true;
    tab.draft.value = "admin-1";
    await tab.signIn();
    expect(stored(browser.local)).toEqual({ token: "admin-1", role: "admin" });
  });

  it("raises every open tab to admin when one signs in with the admin token", async () => {
    const browser = fakeBrowser();
    const first = browser.openTab().session;
    first.draft.value = "read-1";
    await first.signIn();
    const second = browser.openTab().session;
    second.draft.value = "admin-1";
    await second.signIn();
    expect(first.adminToken.value).toBe("admin-1");
    // The remembered read token is not left behind in storage for an admin session that is not remembered.
    expect(browser.local.entries.has(SESSION_KEY)).toBe(false);
  });

  it("asks for a token before checking anything", async () => {
    const browser = fakeBrowser();
    const tab = browser.openTab().session;
    expect(await tab.signIn()).toBeNull();
    expect(browser.verify).not.toHaveBeenCalled();
    expect(tab.message.value).toMatch(/Enter the access token/);
  });

  it("keeps a refused token out, saying it was refused, or why it could not be checked", async () => {
    const browser = fakeBrowser();
    const tab = browser.openTab().session;
    tab.draft.value = "wrong";
    await tab.signIn();
    expect(tab.signedIn.value).toBe(false);
    expect(browser.local.entries.has(SESSION_KEY)).toBe(false);
    expect(tab.message.value).toBe(REFUSED_MESSAGE);

    browser.verify.mockRejectedValueOnce(new ApiRequestError(0, "NETWORK", "the server could not be reached"));
    await tab.signIn();
    expect(tab.message.value).toBe("the server could not be reached");
  });

  it("ends with a reason when a read is refused, once", async () => {
    const browser = fakeBrowser();
    const tab = browser.openTab().session;
    tab.draft.value = "read-1";
    await tab.signIn();
    tab.expire();
    expect(tab.signedIn.value).toBe(false);
    expect(browser.local.entries.has(SESSION_KEY)).toBe(false);
    expect(tab.message.value).toBe(EXPIRED_MESSAGE);
    // Later refusals of requests made with the old token change nothing.
    tab.draft.value = "read-2";
    await tab.signIn();
    tab.signOut();
    tab.expire();
    expect(tab.message.value).toBeNull();
  });

  it("stops listening to the other tabs once disposed, and leaves no timer", async () => {
    vi.useFakeTimers();
    try {
      const browser = fakeBrowser();
      const first = browser.openTab().session;
      first.draft.value = "read-1";
      await first.signIn();
      const second = browser.openTab().session;
      expect(second.signedIn.value).toBe(true);
      const waiting = fakeBrowser().openTab().session;
      expect(waiting.resolving.value).toBe(true);
      expect(vi.getTimerCount()).toBe(1);
      second[Symbol.dispose]();
      waiting[Symbol.dispose]();
      expect(vi.getTimerCount()).toBe(0);
      first.signOut();
      expect(first.signedIn.value).toBe(false);
      expect(second.signedIn.value).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});
