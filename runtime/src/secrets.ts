// Comparison of presented secrets (read, admin and metrics tokens) with the configured ones. Web Crypto only, so the
// edge (Deno) and the realtime server (Node) share it.

const encoder = new TextEncoder();

async function digest(value: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(value)));
}

/** Compares two digests in time independent of where they differ; hashing first hides the secret's length too. */
function sameDigest(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/**
 * A check of presented secrets against `secrets`: every configured digest is compared, with no early exit, so the
 * time taken says neither which secret matched nor how close a guess came.
 */
export function createSecretCheck(secrets: readonly string[]): (presented: string) => Promise<boolean> {
  const expected = Promise.all(secrets.map(digest));
  return async (presented) => {
    const [given, configured] = await Promise.all([digest(presented), expected]);
    let match = false;
    for (const candidate of configured) match = sameDigest(given, candidate) || match;
    return match;
  };
}
