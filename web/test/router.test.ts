// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { createRouter, leadHref, matchRoute } from "../src/app/router.ts";

describe("matching routes", () => {
  it("knows every page", () => {
    expect(matchRoute("/")).toEqual({ name: "dashboard" });
    expect(matchRoute("/leaderboard/")).toEqual({ name: "leaderboard" });
    expect(matchRoute("/events/new")).toEqual({ name: "submit" });
    expect(matchRoute("/rules")).toEqual({ name: "rules" });
    expect(matchRoute("/nope")).toEqual({ name: "not-found" });
    expect(matchRoute("/leads/a/b")).toEqual({ name: "not-found" });
  });

  it("round-trips lead ids with reserved characters", () => {
    expect(matchRoute(leadHref("acme:user.1"))).toEqual({ name: "lead", id: "acme:user.1" });
    expect(matchRoute(leadHref("a/b?c"))).toEqual({ name: "lead", id: "a/b?c" });
  });

  it("treats a malformed escape as not found", () => {
    expect(matchRoute("/leads/%E0%A4%A")).toEqual({ name: "not-found" });
  });
});

describe("the router", () => {
  function click(router: ReturnType<typeof createRouter>, href: string, init: MouseEventInit = {}) {
    const anchor = document.createElement("a");
    anchor.href = href;
    document.body.append(anchor);
    const event = new MouseEvent("click", { bubbles: true, cancelable: true, button: 0, ...init });
    Object.defineProperty(event, "target", { value: anchor });
    router.handleClick(event);
    anchor.remove();
    return event;
  }

  it("follows same-origin links through the History API", () => {
    const router = createRouter(window);
    const event = click(router, "/leads/a?x=1");
    expect(event.defaultPrevented).toBe(true);
    expect(router.route.value).toEqual({ name: "lead", id: "a" });
    expect(router.search.value).toBe("?x=1");
    expect(window.location.pathname).toBe("/leads/a");
  });

  it("leaves modified clicks, other origins and API links to the browser", () => {
    const router = createRouter(window);
    expect(click(router, "/rules", { ctrlKey: true }).defaultPrevented).toBe(false);
    expect(click(router, "https://elsewhere.example/").defaultPrevented).toBe(false);
    expect(click(router, "/api/leads").defaultPrevented).toBe(false);
  });

  it("follows the back button", () => {
    const router = createRouter(window);
    const stop = router.start();
    router.navigate("/rules");
    window.history.replaceState(null, "", "/leaderboard");
    window.dispatchEvent(new PopStateEvent("popstate"));
    expect(router.route.value).toEqual({ name: "leaderboard" });
    stop();
  });
});
