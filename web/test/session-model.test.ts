// @vitest-environment happy-dom
import { describe, expect, it, vi } from "vitest";
import { ApiRequestError } from "../src/lib/api.ts";
import { createSessionValue } from "../src/lib/session-value.ts";
import { createSessionModel, EXPIRED_MESSAGE, READ_TOKEN_KEY, REFUSED_MESSAGE } from "../src/session/model.ts";

function setup(verify = vi.fn(async (_token: string) => undefined)) {
  const storage = new Map<string, string>();
  const store = {
    getItem: (key: string) => storage.get(key) ?? null,
    setItem: (key: string, value: string) => void storage.set(key, value),
    removeItem: (key: string) => void storage.delete(key),
  };
  const session = createSessionModel({ token: createSessionValue(READ_TOKEN_KEY, store), verify });
  return { session, storage, verify };
}

describe("the session", () => {
  it("keeps an accepted token for the tab, and forgets it on sign-out", async () => {
    const { session, storage, verify } = setup();
    expect(session.signedIn.value).toBe(false);
    session.draft.value = " read-1 ";
    await session.signIn();
    expect(verify).toHaveBeenCalledWith("read-1");
    expect(session.signedIn.value).toBe(true);
    expect(storage.get(READ_TOKEN_KEY)).toBe("read-1");
    expect(session.draft.value).toBe("");
    session.signOut();
    expect(session.signedIn.value).toBe(false);
    expect(storage.has(READ_TOKEN_KEY)).toBe(false);
  });

  it("asks for a token before checking anything", async () => {
    const { session, verify } = setup();
    await session.signIn();
    expect(verify).not.toHaveBeenCalled();
    expect(session.message.value).toMatch(/Enter the access token/);
  });

  it("keeps a refused token out, saying it was refused, or why it could not be checked", async () => {
    const verify = vi.fn(async (_token: string) => {
      throw new ApiRequestError(401, "UNAUTHORIZED", "the read token is not valid");
    });
    const { session, storage } = setup(verify);
    session.draft.value = "wrong";
    await session.signIn();
    expect(session.signedIn.value).toBe(false);
    expect(storage.has(READ_TOKEN_KEY)).toBe(false);
    expect(session.message.value).toBe(REFUSED_MESSAGE);

    verify.mockRejectedValueOnce(new ApiRequestError(0, "NETWORK", "the server could not be reached"));
    await session.signIn();
    expect(session.message.value).toBe("the server could not be reached");
  });

  it("ends with a reason when a read is refused, once", async () => {
    const { session, storage } = setup();
    session.draft.value = "read-1";
    await session.signIn();
    session.expire();
    expect(session.signedIn.value).toBe(false);
    expect(storage.has(READ_TOKEN_KEY)).toBe(false);
    expect(session.message.value).toBe(EXPIRED_MESSAGE);
    // Later refusals of requests made with the old token change nothing.
    session.draft.value = "read-2";
    await session.signIn();
    session.signOut();
    session.expire();
    expect(session.message.value).toBeNull();
  });
});
