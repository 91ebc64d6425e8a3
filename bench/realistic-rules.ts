// A realistic scoring rule set for benchmarks: 40 rules over ten event types, half with conditions (path prefixes,
// globs, lists, numbers, the lead's email), limits on every email and page-view rule, three groups; and events that
// exercise it (paths, campaigns, email ids, plans), drawn from a seeded generator so runs compare.
import type { LeadProfile, RuleSet, RuleV2 } from "@leadscore/contracts";

type Draft = Omit<RuleV2, "_id" | "label" | "active"> & { _id?: string };

const day = (max: number) => ({ max, per: "day" as const });
const week = (max: number) => ({ max, per: "week" as const });
const oncePerEmail = { max: 1, per: "lifetime" as const, key: "metadata.email_id" };

const DRAFTS: Draft[] = [
  // Page views: a base point, the pages that signal intent, the ones that do not.
  { event_type: "page_view", points: 1, limit: day(10), group: "web" },
  {
    _id: "pricing",
    event_type: "page_view",
    points: 20,
    limit: day(3),
    group: "intent",
    where: { field: "metadata.path", op: "starts_with", value: "/pricing" },
  },
  {
    event_type: "page_view",
    points: 3,
    limit: day(5),
    group: "web",
    where: { field: "metadata.path", op: "glob", value: "/docs/*" },
  },
  {
    event_type: "page_view",
    points: 2,
    limit: day(5),
    group: "web",
    where: { field: "metadata.path", op: "starts_with", value: "/blog/" },
  },
  {
    event_type: "page_view",
    points: -10,
    limit: day(1),
    where: { field: "metadata.path", op: "contains", value: "careers" },
  },
  {
    event_type: "page_view",
    points: 8,
    limit: week(2),
    group: "web",
    where: { field: "metadata.path", op: "glob", value: "/customers/*/story" },
  },
  {
    event_type: "page_view",
    points: 5,
    limit: day(3),
    group: "web",
    where: { field: "metadata.path", op: "in", value: ["/integrations", "/security", "/api"] },
  },
  {
    event_type: "page_view",
    points: 3,
    limit: day(1),
    where: { field: "metadata.utm.source", op: "in", value: ["google", "linkedin"], case: "insensitive" },
  },
  {
    event_type: "page_view",
    points: 10,
    limit: week(1),
    group: "intent",
    where: {
      all: [
        { field: "metadata.path", op: "eq", value: "/contact" },
        { field: "metadata.referrer", op: "exists", value: true },
      ],
    },
  },
  {
    event_type: "page_view",
    points: 4,
    limit: day(2),
    group: "web",
    where: {
      any: [
        { field: "metadata.path", op: "ends_with", value: "/compare" },
        { field: "metadata.path", op: "glob", value: "/vs/*" },
      ],
    },
  },
  // Email: every open and click counted once per email, the whole group capped.
  { event_type: "email_open", points: 5, limit: oncePerEmail, group: "email" },
  {
    event_type: "email_open",
    points: 3,
    limit: oncePerEmail,
    group: "email",
    where: { field: "metadata.campaign", op: "starts_with", value: "product-" },
  },
  {
    event_type: "email_open",
    points: -2,
    limit: day(1),
    where: { field: "metadata.campaign", op: "eq", value: "newsletter" },
  },
  { event_type: "email_click", points: 10, limit: oncePerEmail, group: "email" },
  {
    event_type: "email_click",
    points: 15,
    limit: oncePerEmail,
    group: "intent",
    where: { field: "metadata.url", op: "glob", value: "*/pricing*" },
  },
  {
    event_type: "email_click",
    points: 5,
    limit: day(2),
    group: "email",
    where: { field: "metadata.url", op: "contains", value: "webinar", case: "insensitive" },
  },
  { event_type: "email_bounce", points: -20, limit: day(1) },
  { event_type: "email_unsubscribe", points: -50 },
  // Forms and intent.
  { event_type: "form_submission", points: 20 },
  {
    event_type: "form_submission",
    points: 15,
    group: "intent",
    where: { field: "metadata.form", op: "in", value: ["contact", "quote"] },
  },
  {
    event_type: "form_submission",
    points: -15,
    where: { field: "lead.email", op: "ends_with", value: "@gmail.com", case: "insensitive" },
  },
  { event_type: "demo_request", points: 50, group: "intent" },
  { event_type: "demo_request", points: 25, group: "intent", where: { field: "metadata.seats", op: "gte", value: 50 } },
  {
    event_type: "demo_request",
    points: -30,
    where: {
      any: [
        { field: "lead.email", op: "ends_with", value: "@gmail.com" },
        { field: "lead.email", op: "ends_with", value: "@yahoo.com" },
      ],
    },
  },
  { event_type: "trial_start", points: 40, group: "intent" },
  { event_type: "trial_start", points: 20, where: { field: "metadata.plan", op: "in", value: ["team", "enterprise"] } },
  { event_type: "purchase", points: 100 },
  { event_type: "purchase", points: 50, where: { field: "metadata.amount", op: "gt", value: 1000 } },
  { event_type: "purchase", points: 30, where: { not: { field: "metadata.coupon", op: "exists", value: true } } },
  // Content.
  { event_type: "content_download", points: 10, limit: week(3) },
  {
    event_type: "content_download",
    points: 10,
    group: "intent",
    limit: week(1),
    where: { field: "metadata.asset", op: "glob", value: "*buyer*guide*", case: "insensitive" },
  },
  { event_type: "webinar_attend", points: 25, limit: week(1) },
  { event_type: "webinar_attend", points: 10, where: { field: "metadata.minutes", op: "gte", value: 30 } },
  { event_type: "webinar_register", points: 5, limit: week(2) },
  { event_type: "video_play", points: 2, limit: day(3) },
  {
    event_type: "video_play",
    points: 5,
    limit: day(1),
    where: { field: "metadata.video", op: "starts_with", value: "demo-" },
  },
  { event_type: "chat_started", points: 15, limit: day(1) },
  { event_type: "meeting_booked", points: 60, group: "intent" },
  { event_type: "support_ticket", points: -5 },
  { event_type: "referral", points: 30, where: { field: "metadata.source", op: "neq", value: "self" } },
];

export const REALISTIC_RULES: RuleSet = {
  version: 1,
  groups: [
    { _id: "email", label: "Email engagement", max: 60 },
    { _id: "web", label: "Website", max: 200 },
    { _id: "intent", label: "Buying intent", max: 400 },
  ],
  rules: DRAFTS.map((draft, i) => {
    const _id = draft._id ?? `${draft.event_type}_${i}`;
    return { ...draft, _id, label: _id, active: true };
  }),
};

export const REALISTIC_EVENT_TYPES = [...new Set(DRAFTS.map((draft) => draft.event_type))];

const PATHS = [
  "/",
  "/pricing",
  "/pricing/enterprise",
  "/docs/getting-started",
  "/docs/api/events",
  "/blog/scoring-models",
  "/blog/intent-data",
  "/careers",
  "/customers/acme/story",
  "/integrations",
  "/security",
  "/contact",
  "/product/compare",
  "/vs/hubspot",
  "/features",
];
const CAMPAIGNS = ["newsletter", "product-launch", "product-tips", "webinar-invite", "onboarding"];
const SOURCES = ["google", "LinkedIn", "newsletter", "direct", "twitter"];
const DOMAINS = ["example.com", "gmail.com", "acme.io", "yahoo.com", "initech.com"];

/** Event type weights: page views and email dominate, as in real traffic. */
const WEIGHTED_TYPES = [
  ...Array(40).fill("page_view"),
  ...Array(20).fill("email_open"),
  ...Array(8).fill("email_click"),
  ...REALISTIC_EVENT_TYPES.filter((type) => !["page_view", "email_open", "email_click"].includes(type)),
] as string[];

/** Metadata for an event of `type`, drawn from `random`. */
export function realisticMetadata(type: string, random: () => number): Record<string, unknown> {
  const of = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)] as T;
  switch (type) {
    case "page_view":
      return {
        path: of(PATHS),
        ...(random() < 0.3 && { utm: { source: of(SOURCES), medium: "cpc" } }),
        ...(random() < 0.2 && { referrer: "https://www.google.com/" }),
      };
    case "email_open":
    case "email_click":
      return {
        email_id: `m-${Math.floor(random() * 40)}`,
        campaign: of(CAMPAIGNS),
        ...(type === "email_click" && { url: `https://example.com${of(PATHS)}?utm_campaign=webinar` }),
      };
    default:
      return {
        form: of(["contact", "newsletter", "quote"]),
        seats: Math.floor(random() * 200),
        plan: of(["free", "team", "enterprise"]),
        amount: Math.floor(random() * 5000),
        minutes: Math.floor(random() * 60),
        asset: of(["Buyer-Guide-2026.pdf", "whitepaper.pdf"]),
        video: of(["demo-intro", "webinar-recap"]),
        source: of(["self", "partner"]),
      };
  }
}

export function realisticEventType(random: () => number): string {
  return WEIGHTED_TYPES[Math.floor(random() * WEIGHTED_TYPES.length)] as string;
}

export function realisticProfile(lead: number): LeadProfile {
  return { email: `person${lead}@${DOMAINS[lead % DOMAINS.length]}`, company: `Company ${lead % 97}`, name: null };
}
