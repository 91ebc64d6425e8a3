import { describe, expect, it } from "vitest";
import { createLedger } from "../harness/ledger.ts";

describe("the ledger", () => {
  it("expects an accepted or delivered event to be scored", () => {
    const ledger = createLedger();
    ledger.record("a", 3, "fresh", "accepted");
    ledger.record("b", 4, "fresh", "delivered");
    expect(ledger.get("a")).toMatchObject({ expectation: "present", leadRank: 3, acceptedTwice: false });
    expect(ledger.get("b")?.expectation).toBe("present");
  });

  it("expects a refused event to be absent, even when it rode a pixel that answered 200", () => {
    const ledger = createLedger();
    ledger.record("a", 0, "invalid", "rejected");
    ledger.record("b", 0, "invalid", "delivered");
    expect(ledger.get("a")?.expectation).toBe("absent");
    expect(ledger.get("b")?.expectation).toBe("absent");
  });

  it("leaves an id whose requests all failed to either fate", () => {
    const ledger = createLedger();
    ledger.record("a", 0, "fresh", "error");
    ledger.record("a", 0, "duplicate", "duplicate");
    expect(ledger.get("a")).toMatchObject({ expectation: "unknown", answeredDuplicate: true });
  });

  it("remembers a retry answered 202 after its original was", () => {
    const ledger = createLedger();
    ledger.record("a", 0, "fresh", "accepted");
    ledger.record("a", 0, "duplicate", "accepted");
    expect(ledger.get("a")?.acceptedTwice).toBe(true);
  });
});
