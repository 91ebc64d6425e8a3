import { type Signal, signal } from "@preact/signals";

/** A string signal mirrored in sessionStorage: secrets typed once stay for the tab, and go when it closes. */
export function createSessionValue(
  key: string,
  storage: Pick<Storage, "getItem" | "setItem" | "removeItem"> | null,
): Signal<string> {
  let initial = "";
  try {
    initial = storage?.getItem(key) ?? "";
  } catch {
    // storage disabled (privacy mode): the value lives in memory only
  }
  const value = signal(initial, { name: key });
  value.subscribe((next) => {
    try {
      if (next === "") storage?.removeItem(key);
      else storage?.setItem(key, next);
    } catch {
      // as above
    }
  });
  return value;
}

/** sessionStorage when the browser allows it. */
export function sessionStore(): Storage | null {
  try {
    return globalThis.sessionStorage ?? null;
  } catch {
    return null;
  }
}
