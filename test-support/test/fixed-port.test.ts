import { afterEach, describe, expect, it, vi } from "vitest";
import { fixedPort } from "../index.ts";

afterEach(() => vi.unstubAllEnvs());

describe("fixedPort", () => {
  it("never hands out a port twice, though no server listens on it yet", async () => {
    // A cluster asks for all its nodes' ports before it starts any: in a narrow range, picks at random repeat.
    vi.stubEnv("TEST_FIXED_PORTS", "7390-7397");
    const ports = [];
    for (let i = 0; i < 8; i++) ports.push(await fixedPort());
    expect(new Set(ports).size).toBe(8);
    expect(ports.every((port) => port >= 7390 && port <= 7397)).toBe(true);
  });
});
