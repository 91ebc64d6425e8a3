// Webhooks: the subscriptions, a form for a new one (its secret shown once, with a copy button), pause/resume,
// delete, a test event, and one subscription's delivery log with retry. Every call carries the session's admin token
// (one sign-in for the browser unlocks every admin page).
import { batch, computed, createModel, effect, type ReadonlySignal, signal } from "@preact/signals";
import { type Api, ApiRequestError } from "../lib/api.ts";
import { type MappedErrors, mapFieldErrors } from "../lib/form-errors.ts";
import { formatDateTime } from "../lib/format.ts";
import { addView, interval } from "../lib/reactions.ts";

export const WEBHOOK_EVENTS = ["lead.stage_changed", "lead.created", "lead.score_changed", "lead.merged"] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
export const WEBHOOK_FIELDS = ["url", "events", "description"] as const;
export type WebhookField = (typeof WEBHOOK_FIELDS)[number];
/** Why nothing was asked of the API: the session does not hold the admin token. */
export const ADMIN_NEEDED = "Sign in with the admin token to manage webhooks";
export const DELIVERY_FILTERS = ["all", "pending", "delivered", "failed", "dropped"] as const;
export type DeliveryFilter = (typeof DELIVERY_FILTERS)[number];

/** Something that happened to a subscription: disabled, its backlog full (messages dropped), or taking them again. */
export interface WebhookNotice {
  type: "webhook.disabled" | "webhook.backlog_full" | "webhook.backlog_resumed";
  at: string;
  reason: string;
  dropped?: number;
}

export interface WebhookItem {
  id: string;
  url: string;
  events: WebhookEvent[];
  description: string;
  active: boolean;
  disabled_reason: string | null;
  disabled_at: string | null;
  /** The first failed attempt since the receiver's last success; null while it accepts deliveries. */
  failing_since: string | null;
  last_success_at: string | null;
  pending: number;
  /** Messages dropped because the backlog was at its bound (each in the log as `dropped`). */
  dropped: number;
  notices: WebhookNotice[];
  created_at: string;
  updated_at: string;
  secret?: string;
}

/** On and accepted, on while its receiver fails, paused by hand, or disabled by the dispatcher. */
export type WebhookStatus = "active" | "failing" | "paused" | "disabled";

/**
 * How a subscription stands, in words: its state ("Active", "Failing since …", "Paused", "Disabled"), and what the
 * dispatcher has seen besides (why and when it disabled it, since when it fails once off, its backlog, what was
 * dropped). Moments are in the app's date format unless `time` says otherwise.
 */
export function webhookState(
  hook: WebhookItem,
  time: (iso: string) => string = formatDateTime,
): { status: WebhookStatus; label: string; details: string[] } {
  // Off, a subscription says since when it fails among its details; on, in its state.
  const failingSince = hook.active ? hook.failing_since : null;
  const status: WebhookStatus = failingSince
    ? "failing"
    : hook.active
      ? "active"
      : hook.disabled_reason
        ? "disabled"
        : "paused";
  const label = failingSince
    ? `Failing since ${time(failingSince)}`
    : status === "active"
      ? "Active"
      : status === "disabled"
        ? "Disabled"
        : "Paused";
  const details: string[] = [];
  if (hook.disabled_reason) {
    details.push(`${hook.disabled_reason}${hook.disabled_at ? ` (disabled ${time(hook.disabled_at)})` : ""}`);
  }
  if (hook.failing_since && !failingSince) details.push(`failing since ${time(hook.failing_since)}`);
  if (hook.pending > 0) details.push(`${hook.pending} pending`);
  if (hook.dropped > 0) details.push(`${hook.dropped} dropped: the backlog was full`);
  return { status, label, details };
}

export interface DeliveryAttempt {
  at: string;
  status_code: number | null;
  latency_ms: number;
  response: string;
  error: string | null;
}

export interface DeliveryItem {
  id: string;
  webhook_id: string;
  type: string;
  lead_id: string | null;
  status: "pending" | "delivered" | "failed" | "dropped";
  created_at: string;
  next_attempt_at: string | null;
  attempts: DeliveryAttempt[];
  /** The body sent. */
  payload: Record<string, unknown>;
}

export interface NewWebhookForm {
  url: string;
  events: WebhookEvent[];
  description: string;
}

const EMPTY_FORM: NewWebhookForm = { url: "", events: ["lead.stage_changed"], description: "" };

/** A delivery shown as failing: given up, or pending after a failed attempt. */
export function isFailing(delivery: DeliveryItem): boolean {
  const last = delivery.attempts.at(-1);
  return delivery.status === "failed" || (delivery.status === "pending" && last !== undefined);
}

/** How often the page reads the subscriptions and the open log again while it is shown. */
export const REFRESH_MS = 5000;

/** The webhooks page; `activate` keeps it fresh (every REFRESH_MS) until the function it returns is called. */
export const WebhooksModel = createModel(
  (deps: {
    api: Pick<Api, "admin">;
    /** The admin token of the session, "" when it holds a read token. */
    token: ReadonlySignal<string>;
    clipboard?: (text: string) => Promise<void>;
  }) => {
    const { api, token } = deps;
    const clipboard = deps.clipboard ?? ((text: string) => globalThis.navigator.clipboard.writeText(text));
    const webhooks = signal<WebhookItem[]>([], { name: "webhooks.list" });
    const status = signal<"idle" | "loading" | "ready" | "error">("idle", { name: "webhooks.status" });
    const error = signal<string | null>(null, { name: "webhooks.error" });
    const tokenError = signal<string | null>(null, { name: "webhooks.tokenError" });
    const form = signal<NewWebhookForm>({ ...EMPTY_FORM }, { name: "webhooks.form" });
    const createErrors = signal<MappedErrors<WebhookField>>(
      { fields: {}, form: [] },
      { name: "webhooks.createErrors" },
    );
    const creating = signal(false, { name: "webhooks.creating" });
    const secret = signal<{ id: string; secret: string } | null>(null, { name: "webhooks.secret" });
    const copied = signal(false, { name: "webhooks.copied" });
    const notice = signal<string | null>(null, { name: "webhooks.notice" });
    const selected = signal<string | null>(null, { name: "webhooks.selected" });
    const filter = signal<DeliveryFilter>("all", { name: "webhooks.filter" });
    const deliveries = signal<DeliveryItem[]>([], { name: "webhooks.deliveries" });
    const deliveriesTotal = signal<number | null>(null, { name: "webhooks.deliveriesTotal" });
    const next = signal<string | null>(null, { name: "webhooks.next" });
    const logStatus = signal<"idle" | "loading" | "ready" | "error">("idle", { name: "webhooks.logStatus" });

    const views = signal<readonly object[]>([], { name: "webhooks.views" });
    const shown = computed(() => views.value.length > 0);

    // Another token (a sign-in, a sign-out) clears what was said about the one before.
    effect(() => {
      void token.value;
      tokenError.value = null;
    });

    /** Runs an admin call; a refused token or another failure becomes a message, and the call yields null. */
    async function call<T>(
      method: "GET" | "POST" | "PUT" | "DELETE",
      path: string,
      body?: unknown,
    ): Promise<{ items: T[]; total: number | null; next: string | null } | null> {
      const admin = token.value.trim();
      if (!admin) {
        tokenError.value = ADMIN_NEEDED;
        return null;
      }
      try {
        return await api.admin<T>(method, path, admin, body);
      } catch (failure) {
        if (failure instanceof ApiRequestError && (failure.status === 401 || failure.status === 403)) {
          tokenError.value = `${failure.message} — sign in again with the admin token`;
          return null;
        }
        throw failure;
      }
    }

    const replace = (item: WebhookItem) => {
      webhooks.value = webhooks.value.map((hook) => (hook.id === item.id ? item : hook));
    };

    async function readLog(append: boolean) {
      const id = selected.value;
      if (!id) return;
      const params = new URLSearchParams({ limit: "20" });
      if (filter.value !== "all") params.set("status", filter.value);
      if (append && next.value) params.set("cursor", next.value);
      logStatus.value = "loading";
      try {
        const page = await call<DeliveryItem>("GET", `/api/webhooks/${id}/deliveries?${params}`);
        if (!page) {
          logStatus.value = "error";
          return;
        }
        batch(() => {
          deliveries.value = append ? [...deliveries.value, ...page.items] : page.items;
          deliveriesTotal.value = page.total;
          next.value = page.next;
          logStatus.value = "ready";
        });
      } catch (failure) {
        batch(() => {
          logStatus.value = "error";
          notice.value = (failure as Error).message;
        });
      }
    }

    /** Reads the subscriptions (each with its state from the dispatcher); `quiet` keeps what is shown while it reads. */
    async function load(quiet = false) {
      // Nothing to show until the session holds the admin token.
      if (!token.value.trim()) return;
      if (!quiet) status.value = "loading";
      try {
        const page = await call<WebhookItem>("GET", "/api/webhooks");
        batch(() => {
          webhooks.value = page?.items ?? [];
          status.value = page ? "ready" : "idle";
          error.value = null;
        });
      } catch (failure) {
        if (quiet && status.value === "ready") return;
        batch(() => {
          status.value = "error";
          error.value = (failure as Error).message;
        });
      }
    }

    /** Runs an action, showing its failure as the page's notice. */
    async function act(action: () => Promise<void>) {
      notice.value = null;
      try {
        await action();
      } catch (failure) {
        notice.value = (failure as Error).message;
      }
    }

    effect(() => {
      if (!shown.value) return;
      return interval(() => {
        if (!token.value.trim()) return;
        void load(true);
        // The open log is read again when only its first page is shown (older pages stay as they are).
        if (selected.value && next.value === null && logStatus.value !== "loading") void readLog(false);
      }, REFRESH_MS);
    });

    return {
      token,
      tokenError,
      webhooks,
      status,
      error,
      form,
      createErrors,
      creating,
      /** The secret of the subscription just created, shown once. */
      secret,
      copied,
      notice,
      selected,
      filter,
      deliveries,
      deliveriesTotal,
      hasMore: computed(() => next.value !== null),
      logStatus,
      /** Reads the subscriptions and the open log again every REFRESH_MS until the returned function is called. */
      activate() {
        return addView(views, {});
      },
      setField<K extends keyof NewWebhookForm>(key: K, value: NewWebhookForm[K]) {
        form.value = { ...form.value, [key]: value };
      },
      toggleEvent(event: WebhookEvent, on: boolean) {
        const events = form.value.events.filter((item) => item !== event);
        form.value = { ...form.value, events: on ? [...events, event] : events };
      },
      load: () => load(),
      async create() {
        if (creating.value) return;
        creating.value = true;
        createErrors.value = { fields: {}, form: [] };
        try {
          const { url, events, description } = form.value;
          const page = await call<WebhookItem>("POST", "/api/webhooks", {
            url: url.trim(),
            events,
            ...(description.trim() ? { description: description.trim() } : {}),
          });
          const created = page?.items[0];
          if (!created) return;
          batch(() => {
            const { secret: shown, ...listed } = created;
            webhooks.value = [...webhooks.value, listed];
            secret.value = shown ? { id: created.id, secret: shown } : null;
            copied.value = false;
            form.value = { ...EMPTY_FORM };
          });
        } catch (failure) {
          const details = failure instanceof ApiRequestError ? failure.details : [];
          const errors = mapFieldErrors(details, WEBHOOK_FIELDS);
          if (details.length === 0) errors.form.push((failure as Error).message);
          createErrors.value = errors;
        } finally {
          creating.value = false;
        }
      },
      async copySecret() {
        const shown = secret.value;
        if (!shown) return;
        await act(async () => {
          await clipboard(shown.secret);
          copied.value = true;
        });
      },
      dismissSecret() {
        secret.value = null;
        copied.value = false;
      },
      setActive: (id: string, active: boolean) =>
        act(async () => {
          const page = await call<WebhookItem>("PUT", `/api/webhooks/${id}`, { active });
          if (page?.items[0]) replace(page.items[0]);
        }),
      remove: (id: string) =>
        act(async () => {
          if (!(await call("DELETE", `/api/webhooks/${id}`))) return;
          batch(() => {
            webhooks.value = webhooks.value.filter((hook) => hook.id !== id);
            if (selected.value === id) {
              selected.value = null;
              deliveries.value = [];
            }
            if (secret.value?.id === id) secret.value = null;
          });
        }),
      sendTest: (id: string) =>
        act(async () => {
          if (!(await call("POST", `/api/webhooks/${id}/test`))) return;
          notice.value = "Test event queued; the delivery log shows how the receiver answered.";
          if (selected.value === id) await readLog(false);
        }),
      async showLog(id: string) {
        batch(() => {
          selected.value = id;
          deliveries.value = [];
          next.value = null;
        });
        await readLog(false);
      },
      async setFilter(value: DeliveryFilter) {
        filter.value = value;
        await readLog(false);
      },
      loadMore: () => readLog(true),
      retry: (deliveryId: string) =>
        act(async () => {
          const id = selected.value;
          if (!id) return;
          const page = await call<DeliveryItem>("POST", `/api/webhooks/${id}/deliveries/${deliveryId}/retry`);
          const retried = page?.items[0];
          if (!retried) return;
          batch(() => {
            deliveries.value = deliveries.value.map((item) => (item.id === retried.id ? retried : item));
            notice.value = "Sent again: the delivery is queued now, and this log shows its answer as it comes.";
          });
        }),
    };
  },
);
export type WebhooksModel = InstanceType<typeof WebhooksModel>;
