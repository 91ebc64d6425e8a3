// Following a list's pages through its `Link: rel="next"` cursors, as a client does.
import { expect } from "vitest";
import { withReadToken } from "./index.ts";

/** An app that answers requests (`createApp`'s, an edge runtime's `app`). */
interface RequestsApp {
  request(path: string, init?: RequestInit): Response | Promise<Response>;
}

/** One page of a list: its body and its `X-Total-Count`. */
export interface ListPage {
  body: unknown[];
  total: string | null;
}

/** Every page of a list (at most `most`), following its cursors; each must answer 200. */
export async function walkPages(app: RequestsApp, path: string, most = 200): Promise<ListPage[]> {
  const pages: ListPage[] = [];
  let next: string | null = path;
  while (next !== null && pages.length < most) {
    const response = await app.request(next, withReadToken());
    expect(response.status, next).toBe(200);
    pages.push({ body: (await response.json()) as unknown[], total: response.headers.get("x-total-count") });
    next = /<([^>]+)>; rel="next"/.exec(response.headers.get("link") ?? "")?.[1] ?? null;
  }
  return pages;
}
