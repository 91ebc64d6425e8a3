// Just enough of the Prometheus text format to read a few headline figures off `/metrics`.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = line.match(SAMPLE);
    if (!match) continue;
    const value = Number(match[3]);
    if (Number.isNaN(value)) continue;
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? "").matchAll(LABEL)) {
      labels[label[1] as string] = (label[2] as string).replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    samples.push({ name: match[1] as string, labels, value });
  }
  return samples;
}

/** Sum over every label set of the first metric name that exists, or null when none does. */
export function sumOf(samples: readonly Sample[], names: readonly string[]): number | null {
  for (const name of names) {
    const matching = samples.filter((sample) => sample.name === name);
    if (matching.length > 0) return matching.reduce((sum, sample) => sum + sample.value, 0);
  }
  return null;
}

/** Mean of a histogram or summary (`_sum` / `_count`), or null when it is absent or empty. */
export function meanOf(samples: readonly Sample[], base: string): number | null {
  const sum = sumOf(samples, [`${base}_sum`]);
  const count = sumOf(samples, [`${base}_count`]);
  if (sum === null || count === null || count === 0) return null;
  return sum / count;
}
