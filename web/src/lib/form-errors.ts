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
