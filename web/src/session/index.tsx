import { FormErrors, PageTitle } from "../app/ui.tsx";
import { DEV_READ_TOKEN_HINT, type SessionModel } from "./model.ts";

export function SignInPage({ model }: { model: SessionModel }) {
  const message = model.message.value;
  const checking = model.checking.value;
  return (
    <>
      <PageTitle title="Sign in">Sign in</PageTitle>
      <p class="lede">Leads, scores and rules are shown to holders of an access token only.</p>
      <form
        class="panel form sign-in"
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          void model.signIn();
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
            A read token or the admin token; kept for this tab only. In development: <code>{DEV_READ_TOKEN_HINT}</code>.
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
