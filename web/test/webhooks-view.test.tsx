// @vitest-environment happy-dom
import { signal } from "@preact/signals";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/preact";
import { afterEach, describe, expect, it } from "vitest";
import type { Api } from "../src/lib/api.ts";
import { formatDateTime } from "../src/lib/format.ts";
import { WebhooksPage } from "../src/webhooks/index.tsx";
import { type WebhookItem, WebhooksModel } from "../src/webhooks/model.ts";
import { DISABLED_HOOK, HOOK, page } from "./fakes.ts";

afterEach(() => cleanup());

/** The page showing `hook`, with an empty delivery log; resolves to its row. */
async function showing(hook: WebhookItem) {
  const admin = async (_method: string, path: string) => page(path.includes("/deliveries") ? [] : [hook]) as never;
  const model = new WebhooksModel({ api: { admin } as unknown as Pick<Api, "admin">, token: signal("admin") });
  render(<WebhooksPage model={model} />);
  return screen.findByRole("row", { name: /crm\.example\.com/ });
}

const cell = (row: HTMLElement, label: string) => row.querySelector(`td[data-label="${label}"]`)?.textContent;

describe("the Webhooks page, for a subscription whose receiver fails", () => {
  it("says since when in its state, in the app's date format, and its backlog beside it", async () => {
    const row = await showing({ ...HOOK, failing_since: "2026-03-02T09:30:00.000Z", pending: 3 });
    expect(cell(row, "State")).toBe(`Failing since ${formatDateTime("2026-03-02T09:30:00.000Z")}`);
    expect(cell(row, "Details")).toBe("3 pending");
    expect(within(row).getByRole("button", { name: /^Pause/ })).toBeTruthy();
  });

  it("says Active, and nothing beside it, once it accepts deliveries", async () => {
    const row = await showing(HOOK);
    expect(cell(row, "State")).toBe("Active");
    expect(cell(row, "Details")).toBe("");
  });
});

describe("the Webhooks page, for a subscription the dispatcher disabled", () => {
  it("shows it disabled with the reason, since when it failed and what was dropped, and its notices", async () => {
    const row = await showing(DISABLED_HOOK);
    expect(cell(row, "State")).toBe("Disabled");
    expect([...row.querySelectorAll(".webhook-detail")].map((detail) => detail.textContent)).toEqual([
      `its receiver accepted no delivery for 3 days (WEBHOOK_DISABLE_AFTER_MS) (disabled ${formatDateTime("2026-03-04T12:00:00.000Z")})`,
      `failing since ${formatDateTime("2026-03-01T12:00:00.000Z")}`,
      "100000 pending",
      "42 dropped: the backlog was full",
    ]);
    expect(within(row).getByRole("button", { name: /^Enable/ })).toBeTruthy();

    fireEvent.click(within(row).getByRole("button", { name: /^Deliveries/ }));
    await waitFor(() => expect(screen.getByRole("heading", { name: "Notices" })).toBeTruthy());
    const notices = screen.getAllByRole("listitem").map((item) => item.textContent);
    expect(notices).toEqual([
      `${formatDateTime("2026-03-04T12:00:00.000Z")}: webhook.disabled its receiver accepted no delivery for 3 days (WEBHOOK_DISABLE_AFTER_MS)`,
      `${formatDateTime("2026-03-03T08:00:00.000Z")}: webhook.backlog_full the backlog is at its bound`,
    ]);
  });
});
