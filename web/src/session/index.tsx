import { FormErrors, PageTitle } from "../app/ui.tsx";
import { DEV_ADMIN_TOKEN_HINT, DEV_READ_TOKEN_HINT, type Role, type SessionModel } from "./model.ts";

export function SignInPage({
  model,
  onSignedIn,
}: {
  model: SessionModel;
  /** Called with the role once the token is accepted (the sign-in page then sends the user on). */
  onSignedIn?: (role: Role) => void;
}) {
  const message = model.message.value;
  const checking = model.checking.value;
  const upgrading = model.role.value === "read";
  return (
    <>
      <PageTitle title="Sign in">{upgrading ? "Sign in as admin" : "Sign in"}</PageTitle>
      <p class="lede">
        {upgrading
          ? "You are signed in with a read token. The admin token also changes rules, webhooks and profiles."
          : "Leads, scores and rules are shown to holders of an access token only."}
      </p>
      <form
        class="panel form sign-in"
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          void model.signIn().then((role) => {
            if (role) onSignedIn?.(role);
          });
        }}
      >
        <FormErrors messages={message ? [message] : []} />
        <div class="field">
          <label for="access-token">Access token</label>
          <input
            id="access-token"
            name="access-token"
            type="password"
            autoComplete="off"
            spellcheck={false}
            value={model.draft.value}
            onInput={(event) => {
              model.draft.value = (event.currentTarget as HTMLInputElement).value;
            }}
            aria-describedby="access-token-hint"
          />
          <p id="access-token-hint" class="hint">
            A read token or the admin token. In development: <code>{DEV_READ_TOKEN_HINT}</code> or{" "}
            <code>{DEV_ADMIN_TOKEN_HINT}</code>.
          </p>
        </div>
        <div class="field">
          <label class="checkbox">
            <input
              type="checkbox"
              checked={model.remember.value}
              aria-describedby="remember-hint"
              onChange={(event) => {
                model.remember.value = (event.currentTarget as HTMLInputElement).checked;
              }}
            />
            <span>Remember the admin token on this computer</span>
          </label>
          <p id="remember-hint" class="hint">
            A read token is kept in this browser until you sign out. The admin token is kept only while a Leadscore tab
            is open, unless this is ticked.
          </p>
        </div>
        <div class="form-actions">
          <button type="submit" class="button button-primary" disabled={checking}>
            {checking ? "Signing in…" : "Sign in"}
          </button>
        </div>
      </form>
    </>
  );
}

export function SignOutButton({ model }: { model: SessionModel }) {
  return (
    <button type="button" class="button button-quiet sign-out" onClick={() => model.signOut()}>
      Sign out
    </button>
  );
}
