// The Webhooks page. Loaded on first visit (its own chunk), so the first load of the dashboard does not carry it.
import type { ReadonlySignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { leadHref } from "../app/router.ts";
import {
  ActionsTable,
  AdminNeeded,
  Empty,
  ErrorState,
  FieldError,
  FormErrors,
  Loading,
  PageTitle,
} from "../app/ui.tsx";
import type { Api } from "../lib/api.ts";
import { formatDateTime } from "../lib/format.ts";
import {
  DELIVERY_FILTERS,
  type DeliveryItem,
  isFailing,
  WEBHOOK_EVENTS,
  type WebhookItem,
  WebhooksModel,
  webhookState,
} from "./model.ts";

const EVENT_TEXT = {
  "lead.stage_changed": "Stage changed (either direction)",
  "lead.created": "Lead created",
  "lead.score_changed": "Score changed (every change: high volume)",
  "lead.merged": "Lead merged (an identify or an admin merge)",
} as const;

/** When a pending delivery is tried next: its time, or "due now" once that time has come. */
function nextTry(iso: string, now: number): string {
  return Date.parse(iso) <= now ? "due now" : `next ${formatDateTime(iso)}`;
}

function NewWebhook({ model }: { model: WebhooksModel }) {
  const form = model.form.value;
  const errors = model.createErrors.value;
  return (
    <form
      class="panel form"
      noValidate
      aria-labelledby="new-webhook-title"
      onSubmit={(event) => {
        event.preventDefault();
        void model.create();
      }}
    >
      <h2 id="new-webhook-title">New webhook</h2>
      <FormErrors messages={errors.form} />
      <div class="form-row">
        <div class="field">
          <label for="webhook-url">URL</label>
          <input
            id="webhook-url"
            type="url"
            autoComplete="off"
            value={form.url}
            onInput={(event) => model.setField("url", (event.currentTarget as HTMLInputElement).value)}
            aria-invalid={errors.fields.url ? true : undefined}
            aria-describedby={errors.fields.url ? "webhook-url-hint webhook-url-error" : "webhook-url-hint"}
          />
          <p id="webhook-url-hint" class="hint">
            Where to POST, e.g. <code>https://crm.example.com/hooks/leadscore</code>
          </p>
          <FieldError id="webhook-url-error" message={errors.fields.url} />
        </div>
        <div class="field">
          <label for="webhook-description">Description</label>
          <input
            id="webhook-description"
            type="text"
            autoComplete="off"
            value={form.description}
            onInput={(event) => model.setField("description", (event.currentTarget as HTMLInputElement).value)}
          />
        </div>
      </div>
      <fieldset class="field">
        <legend>Events</legend>
        {WEBHOOK_EVENTS.map((name) => (
          <label class="checkbox" key={name}>
            <input
              type="checkbox"
              checked={form.events.includes(name)}
              onChange={(event) => model.toggleEvent(name, (event.currentTarget as HTMLInputElement).checked)}
            />
            <span>
              <code>{name}</code> <span class="muted">{EVENT_TEXT[name]}</span>
            </span>
          </label>
        ))}
        <FieldError id="webhook-events-error" message={errors.fields.events} />
      </fieldset>
      <div class="form-actions">
        <button type="submit" class="button button-primary" disabled={model.creating.value}>
          {model.creating.value ? "Creating…" : "Create webhook"}
        </button>
      </div>
    </form>
  );
}

function Secret({ model }: { model: WebhooksModel }) {
  const shown = model.secret.value;
  if (!shown) return null;
  return (
    <div class="alert alert-success webhook-secret" role="status">
      <p>
        Webhook created. Its signing secret is shown <strong>only now</strong>: keep it where your receiver can read it.
      </p>
      <p>
        <code id="webhook-secret">{shown.secret}</code>
      </p>
      <p>
        <button type="button" class="button" onClick={() => void model.copySecret()}>
          {model.copied.value ? "Copied" : "Copy secret"}
        </button>{" "}
        <button type="button" class="button button-quiet" onClick={() => model.dismissSecret()}>
          Done
        </button>
      </p>
    </div>
  );
}

function WebhookRow({ model, hook }: { model: WebhooksModel; hook: WebhookItem }) {
  const state = webhookState(hook);
  return (
    <tr class={model.selected.value === hook.id ? "selected" : undefined}>
      <th scope="row">
        <span class="webhook-url">{hook.url}</span>
        {hook.description ? <span class="muted rule-label">{hook.description}</span> : null}
      </th>
      <td data-label="Events">
        {hook.events.map((name) => (
          <code key={name} class="webhook-event">
            {name}
          </code>
        ))}
      </td>
      <td data-label="State" title={hook.disabled_reason ?? undefined} class={`webhook-${state.status}`}>
        {state.label}
      </td>
      <td data-label="Details">
        {state.details.map((detail) => (
          <span key={detail} class="muted webhook-detail">
            {detail}
          </span>
        ))}
      </td>
      <td class="webhook-actions">
        <button type="button" class="button" onClick={() => void model.showLog(hook.id)}>
          Deliveries<span class="sr-only"> of {hook.url}</span>
        </button>
        <button type="button" class="button" onClick={() => void model.setActive(hook.id, !hook.active)}>
          {hook.active ? "Pause" : state.status === "disabled" ? "Enable" : "Resume"}
          <span class="sr-only"> {hook.url}</span>
        </button>
        <button type="button" class="button" onClick={() => void model.sendTest(hook.id)}>
          Send test event<span class="sr-only"> to {hook.url}</span>
        </button>
        <button
          type="button"
          class="button button-quiet"
          onClick={() => {
            if (globalThis.confirm(`Delete the webhook to ${hook.url} and its delivery log?`))
              void model.remove(hook.id);
          }}
        >
          Delete<span class="sr-only"> {hook.url}</span>
        </button>
      </td>
    </tr>
  );
}

function DeliveryRow({ model, delivery }: { model: WebhooksModel; delivery: DeliveryItem }) {
  const last = delivery.attempts.at(-1);
  const failing = isFailing(delivery);
  return (
    <tr class={failing ? "delivery-failing" : undefined}>
      <td data-label="Queued">{formatDateTime(delivery.created_at)}</td>
      <td data-label="Message">
        <code>{delivery.type}</code>
        {delivery.lead_id ? (
          <>
            {" "}
            <a href={leadHref(delivery.lead_id)}>{delivery.lead_id}</a>
          </>
        ) : null}
        <details class="payload">
          <summary>Payload</summary>
          <pre>{JSON.stringify(delivery.payload, null, 2)}</pre>
        </details>
      </td>
      <td data-label="Status">
        <span class={`badge delivery-${delivery.status}`}>{delivery.status}</span>
        {delivery.next_attempt_at ? <span class="muted"> {nextTry(delivery.next_attempt_at, Date.now())}</span> : null}
      </td>
      <td data-label="Attempts">
        {delivery.attempts.length === 0 ? (
          <span class="muted">not sent yet</span>
        ) : (
          <details>
            <summary>
              {delivery.attempts.length} · {last?.status_code ?? last?.error ?? "no answer"} ·{" "}
              {Math.round(last?.latency_ms ?? 0)} ms
            </summary>
            <ol class="attempts">
              {delivery.attempts.map((attempt) => (
                <li key={attempt.at}>
                  {formatDateTime(attempt.at)}: {attempt.status_code ?? "no answer"} in {Math.round(attempt.latency_ms)}{" "}
                  ms
                  {attempt.error ? <span class="muted"> {attempt.error}</span> : null}
                  {attempt.response ? <pre>{attempt.response}</pre> : null}
                </li>
              ))}
            </ol>
          </details>
        )}
      </td>
      <td>
        {delivery.status !== "delivered" || failing ? (
          <button type="button" class="button" onClick={() => void model.retry(delivery.id)}>
            Retry<span class="sr-only"> delivery {delivery.id}</span>
          </button>
        ) : null}
      </td>
    </tr>
  );
}

function DeliveryLog({ model }: { model: WebhooksModel }) {
  const id = model.selected.value;
  const hook = model.webhooks.value.find((item) => item.id === id);
  if (!id || !hook) return null;
  const items = model.deliveries.value;
  return (
    <section class="panel" aria-labelledby="deliveries-title">
      <div class="panel-head">
        <h2 id="deliveries-title">Deliveries to {hook.url}</h2>
        <p>{model.deliveriesTotal.value ?? 0} in the log</p>
      </div>
      <div class="field field-narrow">
        <label for="delivery-filter">Status</label>
        <select
          id="delivery-filter"
          value={model.filter.value}
          onChange={(event) =>
            void model.setFilter((event.currentTarget as HTMLSelectElement).value as (typeof DELIVERY_FILTERS)[number])
          }
        >
          {DELIVERY_FILTERS.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      </div>
      {hook.notices.length > 0 ? (
        <div class="webhook-notices">
          <h3>Notices</h3>
          <ul>
            {hook.notices.map((notice) => (
              <li key={`${notice.type} ${notice.at}`}>
                {formatDateTime(notice.at)}: <code>{notice.type}</code> {notice.reason}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {items.length === 0 && model.logStatus.value !== "loading" ? (
        <Empty>No deliveries{model.filter.value === "all" ? " yet" : ` ${model.filter.value}`}.</Empty>
      ) : (
        <ActionsTable name="deliveries-table" columns={["Queued", "Message", "Status", "Attempts"]}>
          {items.map((delivery) => (
            <DeliveryRow key={delivery.id} model={model} delivery={delivery} />
          ))}
        </ActionsTable>
      )}
      <div class="form-actions">
        <button type="button" class="button" onClick={() => void model.showLog(id)}>
          Refresh
        </button>
        {model.hasMore.value ? (
          <button type="button" class="button" onClick={() => void model.loadMore()}>
            Older deliveries
          </button>
        ) : null}
      </div>
    </section>
  );
}

export function WebhooksPage({ model }: { model: WebhooksModel }) {
  const token = model.token.value;
  // Read as soon as the session holds the admin token (a sign-in in another tab included), and again while shown.
  useEffect(() => {
    if (!token) return;
    void model.load();
    return model.activate();
  }, [model, token]);
  const hooks = model.webhooks.value;
  const lede = (
    <>
      <PageTitle title="Webhooks">Webhooks</PageTitle>
      <p class="lede">
        Lead changes POSTed to your URLs, signed per Standard Webhooks, retried for a day, in order per lead. A receiver
        that accepts nothing for days is disabled, with the reason shown here.
      </p>
    </>
  );
  if (!token) {
    return (
      <>
        {lede}
        <AdminNeeded action="Managing webhooks" next="/webhooks" />
      </>
    );
  }
  return (
    <>
      {lede}
      {model.tokenError.value ? (
        <AdminNeeded action="Managing webhooks" next="/webhooks" reason={model.tokenError.value} />
      ) : null}
      <div aria-live="polite">
        <Secret model={model} />
        {model.notice.value ? <p class="alert">{model.notice.value}</p> : null}
      </div>
      {model.status.value === "loading" && hooks.length === 0 ? <Loading label="Loading webhooks…" /> : null}
      {model.status.value === "error" ? (
        <ErrorState
          title="Webhooks could not be loaded."
          message={model.error.value}
          onRetry={() => void model.load()}
        />
      ) : null}
      {model.status.value === "ready" && hooks.length === 0 ? <Empty>No webhooks yet.</Empty> : null}
      {hooks.length > 0 ? (
        <ActionsTable name="webhooks-table" columns={["URL", "Events", "State", "Details"]}>
          {hooks.map((hook) => (
            <WebhookRow key={hook.id} model={model} hook={hook} />
          ))}
        </ActionsTable>
      ) : null}
      <DeliveryLog model={model} />
      <NewWebhook model={model} />
    </>
  );
}

const models = new WeakMap<object, WebhooksModel>();

/** The page with its model, kept for as long as the app's API client (so the log survives a visit elsewhere). */
export function WebhooksScreen({ api, token }: { api: Pick<Api, "admin">; token: ReadonlySignal<string> }) {
  let model = models.get(api);
  if (!model) {
    model = new WebhooksModel({ api, token });
    models.set(api, model);
  }
  return <WebhooksPage model={model} />;
}
