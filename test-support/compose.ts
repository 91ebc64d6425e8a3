// Compose files read as Docker Compose would, for tests on a box without Docker (`docker compose config` needs an
// engine): the subset of its variable interpolation the files use.

/** Compose's `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, `${NAME?error}` against `env`. */
export function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?:(:?)([-?])([^}]*))?\}/g, (_, name: string, colon: string, kind, word: string) => {
    const set = colon ? Boolean(env[name]) : env[name] !== undefined;
    if (set) return env[name] as string;
    if (kind === "?") throw new Error(`required variable ${name} is missing a value: ${word}`);
    return kind === "-" ? word : "";
  });
}
