// The reader's session: the access token (a read token, or the admin token) typed once on the sign-in page, kept for
// the tab in sessionStorage, sent on every read and on the socket. A read refused with 401 ends the session.
import { batch, computed, type ReadonlySignal, type Signal, signal } from "@preact/signals";
import { ApiRequestError } from "../lib/api.ts";

export const READ_TOKEN_KEY = "leadscore.read-token";
export const DEV_READ_TOKEN_HINT = "dev-read-token";
export const REFUSED_MESSAGE = "That access token was refused. Check it and try again.";
export const EXPIRED_MESSAGE = "Your access token is no longer accepted. Sign in again.";

export interface SessionModel {
  /** The token in use; "" when signed out. */
  readonly token: ReadonlySignal<string>;
  readonly signedIn: ReadonlySignal<boolean>;
  /** The sign-in field. */
  readonly draft: Signal<string>;
  /** Why the sign-in page is shown, or why the last attempt failed. */
  readonly message: ReadonlySignal<string | null>;
  readonly checking: ReadonlySignal<boolean>;
  signIn(): Promise<void>;
  signOut(): void;
  /** A read was refused with this session's token: back to the sign-in page, saying why. */
  expire(): void;
}

export function createSessionModel(deps: {
  /** Where the token lives (sessionStorage, through `createSessionValue`). */
  token: Signal<string>;
  /** Resolves when the token reads; throws the API's refusal otherwise. */
  verify: (token: string) => Promise<void>;
}): SessionModel {
  const draft = signal("", { name: "session.draft" });
  const message = signal<string | null>(null, { name: "session.message" });
  const checking = signal(false, { name: "session.checking" });

  return {
    token: deps.token,
    signedIn: computed(() => deps.token.value !== ""),
    draft,
    message,
    checking,
    async signIn() {
      const candidate = draft.value.trim();
      if (!candidate) {
        message.value = `Enter the access token (in development: ${DEV_READ_TOKEN_HINT})`;
        return;
      }
      if (checking.value) return;
      checking.value = true;
      try {
        await deps.verify(candidate);
        batch(() => {
          deps.token.value = candidate;
          draft.value = "";
          message.value = null;
        });
      } catch (failure) {
        const refused = failure instanceof ApiRequestError && failure.status === 401;
        message.value = refused ? REFUSED_MESSAGE : (failure as Error).message;
      } finally {
        checking.value = false;
      }
    },
    signOut() {
      batch(() => {
        deps.token.value = "";
        message.value = null;
      });
    },
    expire() {
      if (deps.token.value === "") return;
      batch(() => {
        deps.token.value = "";
        message.value = EXPIRED_MESSAGE;
      });
    },
  };
}
