// @vitest-environment happy-dom
import { signal } from "@preact/signals";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/preact";
import { afterEach, describe, expect, it } from "vitest";
import type { Api } from "../src/lib/api.ts";
import { WebhooksPage } from "../src/webhooks/index.tsx";
import { createWebhooksModel } from "../src/webhooks/model.ts";
import { DISABLED_HOOK, page } from "./fakes.ts";

afterEach(() => cleanup());

describe("the Webhooks page, for a subscription the dispatcher disabled", () => {
  it("shows it disabled with the reason, since when it failed and what was dropped, and its notices", async () => {
    const admin = async (_method: string, path: string) =>
      page(path.includes("/deliveries") ? [] : [DISABLED_HOOK]) as never;
    const model = createWebhooksModel({ api: { admin } as unknown as Pick<Api, "admin">, token: signal("admin") });
    render(<WebhooksPage model={model} />);

    const row = await screen.findByRole("row", { name: /crm\.example\.com/ });
    expect(within(row).getByText("Disabled")).toBeTruthy();
    expect(
      within(row).getByText(/accepted no delivery for 3 days \(WEBHOOK_DISABLE_AFTER_MS\) \(disabled /),
    ).toBeTruthy();
    expect(within(row).getByText(/^failing since /)).toBeTruthy();
    expect(within(row).getByText("42 dropped: the backlog was full")).toBeTruthy();
    expect(within(row).getByRole("button", { name: /^Enable/ })).toBeTruthy();

    fireEvent.click(within(row).getByRole("button", { name: /^Deliveries/ }));
    await waitFor(() => expect(screen.getByRole("heading", { name: "Notices" })).toBeTruthy());
    const notices = screen.getAllByRole("listitem").map((item) => item.textContent);
    expect(notices).toHaveLength(2);
    expect(notices[0]).toMatch(/webhook\.disabled its receiver accepted no delivery for 3 days/);
    expect(notices[1]).toMatch(/webhook\.backlog_full the backlog is at its bound/);
  });
});
