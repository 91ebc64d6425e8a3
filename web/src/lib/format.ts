const integer = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat("en", { maximumFractionDigits: 1 });

export function formatInteger(value: number): string {
  return integer.format(value);
}

export function formatDecimal(value: number): string {
  return decimal.format(value);
}

export function formatSigned(value: number): string {
  return value > 0 ? `+${integer.format(value)}` : value < 0 ? `−${integer.format(-value)}` : "±0";
}

const dateTime = new Intl.DateTimeFormat("en", { dateStyle: "medium", timeStyle: "medium" });
const shortTime = new Intl.DateTimeFormat("en", { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const dateOnly = new Intl.DateTimeFormat("en", { dateStyle: "medium" });
/** Ages up to this are said relative to now ("3 d ago"); older moments are shown as their date. */
const RELATIVE_DAYS = 7;

/** A moment (ISO-8601 or epoch ms) in one of the app's formats; "—" when there is none or it is not a date. */
function formatMoment(format: Intl.DateTimeFormat, moment: string | number | null | undefined): string {
  if (moment === null || moment === undefined || moment === "") return "—";
  const date = new Date(moment);
  return Number.isNaN(date.getTime()) ? "—" : format.format(date);
}

/** "Dec 6, 2026, 1:45:00 PM". */
export const formatDateTime = (iso: string | null | undefined): string => formatMoment(dateTime, iso);
/** "Dec 6, 01:45 PM". */
export const formatShortTime = (iso: string | number | null | undefined): string => formatMoment(shortTime, iso);
/** The app's date, "Dec 6, 2026". */
export const formatDate = (iso: string | number | null | undefined): string => formatMoment(dateOnly, iso);

/** "3 min ago"-style age of a moment relative to `now`; a moment more than a week ago is shown as its date. */
export function formatAge(iso: string | null | undefined, now: number): string {
  if (!iso) return "never";
  const ms = now - new Date(iso).getTime();
  if (Number.isNaN(ms)) return "—";
  if (ms > RELATIVE_DAYS * 24 * 60 * 60 * 1000) return formatDate(iso);
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} d ago`;
}

export function formatSeconds(seconds: number): string {
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 120) return `${decimal.format(seconds)} s`;
  return `${decimal.format(seconds / 60)} min`;
}

export function leadName(lead: { _id: string; name: string | null }): string {
  return lead.name?.trim() ? lead.name : lead._id;
}
