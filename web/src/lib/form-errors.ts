import type { FieldDetail } from "./api.ts";

export interface MappedErrors<F extends string> {
  fields: Partial<Record<F, string>>;
  /** Problems that belong to no field of the form (the body as a whole, unknown fields). */
  form: string[];
}

/**
 * Sorts the API's `details[].path` problems onto a form's fields. A nested path (`metadata.plan`) lands on its
 * top-level field with the rest of the path kept in the message; several problems on one field are joined.
 */
export function mapFieldErrors<F extends string>(
  details: readonly FieldDetail[],
  fields: readonly F[],
): MappedErrors<F> {
  const result: MappedErrors<F> = { fields: {}, form: [] };
  for (const detail of details) {
    const [head = "", ...rest] = detail.path.split(".");
    const field = fields.find((name) => name === head);
    if (!field) {
      result.form.push(detail.path && detail.path !== "(body)" ? `${detail.path}: ${detail.message}` : detail.message);
      continue;
    }
    const message = rest.length > 0 ? `${rest.join(".")}: ${detail.message}` : detail.message;
    const existing = result.fields[field];
    result.fields[field] = existing ? `${existing}; ${message}` : message;
  }
  return result;
}

/** Whether `path` is `at` or below it (`where.all[2].value` is below `where.all[2]` and `where`). */
function within(path: string, at: string): boolean {
  return path === at || path.startsWith(`${at}.`) || path.startsWith(`${at}[`);
}

/**
 * Sorts problems named by full paths (`where.all[2].value`, `limit.max`) onto the places a form shows errors: each
 * goes to the deepest of `places` it falls within, with what lies below that place kept in the message; the rest
 * belong to the form.
 */
export function placeErrors(
  details: readonly FieldDetail[],
  places: readonly string[],
): { at: Record<string, string>; form: string[] } {
  const result: { at: Record<string, string>; form: string[] } = { at: {}, form: [] };
  for (const detail of details) {
    const place = places
      .filter((candidate) => within(detail.path, candidate))
      .reduce<string | null>((best, candidate) => (best && best.length >= candidate.length ? best : candidate), null);
    if (place === null) {
      result.form.push(detail.path && detail.path !== "(body)" ? `${detail.path}: ${detail.message}` : detail.message);
      continue;
    }
    const below = detail.path.slice(place.length).replace(/^\./, "");
    const message = below ? `${below}: ${detail.message}` : detail.message;
    const existing = result.at[place];
    result.at[place] = existing ? `${existing}; ${message}` : message;
  }
  return result;
}
