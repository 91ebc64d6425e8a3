// Just enough of the Prometheus text exposition format to read figures off a `/metrics` page (the dashboard's
// headline, the load harness). Its own entry point, so the browser bundle takes it without the rest of contracts.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses Prometheus text into samples; comments and malformed lines are skipped. */
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

/** Sum of a metric over its label sets, or null when it is absent. */
export function sumOf(samples: readonly Sample[], name: string): number | null {
  const matching = samples.filter((sample) => sample.name === name);
  if (matching.length === 0) return null;
  return matching.reduce((sum, sample) => sum + sample.value, 0);
}
