// @vitest-environment happy-dom
import { normalizeEvent } from "@leadscore/contracts/event";
import { signal } from "@preact/signals";
import { describe, expect, it } from "vitest";
import { ApiRequestError } from "../src/lib/api.ts";
import { mapFieldErrors } from "../src/lib/form-errors.ts";
import {
  buildSubmission,
  EMPTY_EVENT_FORM,
  OTHER_TYPE,
  SubmitEventModel,
  submissionErrors,
} from "../src/submit-event/model.ts";
import { fakeApi, settle } from "./fakes.ts";

describe("mapping the API's error details onto a form", () => {
  const fields = ["lead_id", "event_type", "metadata"] as const;

  it("puts each problem on the field its path names", () => {
    expect(
      mapFieldErrors(
        [
          { path: "lead_id", message: "must be 1-128 characters" },
          { path: "event_type", message: "must be a string" },
        ],
        fields,
      ),
    ).toEqual({ fields: { lead_id: "must be 1-128 characters", event_type: "must be a string" }, form: [] });
  });

  it("puts a nested path on its top-level field, keeping the rest of the path", () => {
    expect(mapFieldErrors([{ path: "metadata.$where", message: "may not start with $" }], fields).fields).toEqual({
      metadata: "$where: may not start with $",
    });
  });

  it("joins several problems of one field", () => {
    const mapped = mapFieldErrors(
      [
        { path: "lead_id", message: "one" },
        { path: "lead_id", message: "two" },
      ],
      fields,
    );
    expect(mapped.fields.lead_id).toBe("one; two");
  });

  it("keeps problems of the body or of unknown fields for the form as a whole", () => {
    expect(
      mapFieldErrors(
        [
          { path: "(body)", message: "unknown field(s): colour" },
          { path: "colour", message: "not allowed" },
        ],
        fields,
      ),
    ).toEqual({ fields: {}, form: ["unknown field(s): colour", "colour: not allowed"] });
  });
});

describe("building the request body", () => {
  it("sends only the fields filled in, with the local time as ISO-8601", () => {
    const built = buildSubmission(
      {
        ...EMPTY_EVENT_FORM,
        lead_id: " lead-1 ",
        event_type: "purchase",
        timestamp: "2025-03-04T05:06:07",
        metadata: '{"plan":"pro"}',
      },
      normalizeEvent,
    );
    expect(built).toEqual({
      ok: true,
      event: {
        lead_id: "lead-1",
        event_type: "purchase",
        timestamp: new Date("2025-03-04T05:06:07").toISOString(),
        metadata: { plan: "pro" },
      },
    });
  });

  it("uses the type typed by hand for Other", () => {
    const built = buildSubmission(
      { ...EMPTY_EVENT_FORM, lead_id: "a", event_type: OTHER_TYPE, other_type: "webinar" },
      normalizeEvent,
    );
    expect(built.ok && built.event.event_type).toBe("webinar");
  });

  it("finds every problem at once with the edge's own validation, before sending", () => {
    const built = buildSubmission(
      { ...EMPTY_EVENT_FORM, lead_id: "crm 0150", event_type: "purchase", event_id: "has space", metadata: "{nope" },
      normalizeEvent,
    );
    expect(built.ok).toBe(false);
    expect(!built.ok && Object.keys(built.errors.fields).sort()).toEqual(["event_id", "lead_id", "metadata"]);
  });

  it("reports a time too far in the future, or in the past, alongside the other fields' problems", () => {
    for (const [timestamp, message] of [
      ["2030-01-02T03:04", "is more than 5 minutes in the future"],
      ["1990-01-02T03:04", "is more than 730 days in the past (EVENT_MAX_AGE_DAYS)"],
    ] as const) {
      const built = buildSubmission(
        { ...EMPTY_EVENT_FORM, lead_id: "crm 0150", event_type: "Purchase", event_id: "has space", timestamp },
        normalizeEvent,
      );
      expect(built.ok).toBe(false);
      expect(!built.ok && Object.keys(built.errors.fields).sort()).toEqual([
        "event_id",
        "event_type",
        "lead_id",
        "timestamp",
      ]);
      expect(!built.ok && built.errors.fields.timestamp).toBe(message);
    }
  });

  it("refuses metadata that is not a JSON object before sending", () => {
    const refusals = {
      "{nope": 'Is not valid JSON; expected an object, e.g. {"plan": "pro"}',
      "[1,2]": 'Must be a JSON object, e.g. {"plan": "pro"}',
      '"text"': 'Must be a JSON object, e.g. {"plan": "pro"}',
    };
    for (const [metadata, message] of Object.entries(refusals)) {
      const built = buildSubmission({ ...EMPTY_EVENT_FORM, lead_id: "a", event_type: "x", metadata }, normalizeEvent);
      expect(built.ok).toBe(false);
      expect(!built.ok && built.errors.fields.metadata).toBe(message);
    }
  });
});

describe("a refused submission", () => {
  it("shows validation details by field", () => {
    const failure = new ApiRequestError(400, "VALIDATION_FAILED", "invalid event", [
      { path: "lead_id", message: "must be 1-128 characters of A-Z a-z 0-9 . _ : -" },
    ]);
    const errors = submissionErrors(failure);
    expect(errors.fields).toEqual({ lead_id: "must be 1-128 characters of A-Z a-z 0-9 . _ : -" });
    expect(errors.form).toHaveLength(1);
  });

  it("blames the write key for a 401", () => {
    const errors = submissionErrors(new ApiRequestError(401, "UNAUTHORIZED", "invalid write key"));
    expect(errors.fields.write_key).toMatch(/invalid write key/);
  });

  it("shows a rate limit or outage as a form message", () => {
    const errors = submissionErrors(new ApiRequestError(503, "SERVICE_UNAVAILABLE", "queue unavailable"));
    expect(errors).toEqual({ fields: {}, form: ["queue unavailable"] });
  });
});

describe("the submit-event model", () => {
  it("offers the server's event types and picks the first", async () => {
    const model = new SubmitEventModel({ api: fakeApi(), writeKey: signal("k") });
    await model.loadTypes();
    expect(model.eventTypes.value.map((type) => type.value)).toEqual(["email_open", "purchase"]);
    expect(model.form.value.event_type).toBe("email_open");
  });

  it("asks for a write key before sending", async () => {
    const api = fakeApi();
    const model = new SubmitEventModel({ api, writeKey: signal("") });
    model.set("lead_id", "a");
    await model.submit();
    expect(api.submitEvent).not.toHaveBeenCalled();
    expect(model.errors.value.fields.write_key).toMatch(/write key/);
  });

  it("posts with the write key and reports the accepted event", async () => {
    const api = fakeApi();
    const model = new SubmitEventModel({ api, writeKey: signal("secret") });
    await model.loadTypes();
    model.set("lead_id", "lead-9");
    model.set("event_id", "e-9");
    await model.submit();
    expect(api.submitEvent).toHaveBeenCalledWith(
      { lead_id: "lead-9", event_type: "email_open", event_id: "e-9" },
      "secret",
    );
    expect(model.result.value).toMatchObject({ event_id: "evt-1", lead_id: "lead-9", duplicate: false });
    expect(model.form.value.event_id).toBe("");
  });

  it("keeps the optional fields open once one of them was in error, whatever is typed next", async () => {
    const model = new SubmitEventModel({ api: fakeApi(), writeKey: signal("k") });
    model.set("lead_id", "lead-1");
    model.set("event_type", "purchase");
    model.set("event_id", "has space");
    await model.submit();
    expect(model.moreOpen.value).toBe(true);
    expect(model.firstError.value).toBe("event_id");
    model.set("event_id", "has spac");
    expect(model.moreOpen.value).toBe(true);
  });

  it("shows the API's field errors, and clears one when its field changes", async () => {
    const api = fakeApi({
      submitEvent: async () => {
        throw new ApiRequestError(400, "VALIDATION_FAILED", "invalid event", [{ path: "lead_id", message: "bad id" }]);
      },
    });
    const model = new SubmitEventModel({ api, writeKey: signal("k") });
    model.set("lead_id", "valid-but-refused");
    model.set("event_type", "purchase");
    await model.submit();
    await settle();
    expect(model.errors.value.fields.lead_id).toBe("bad id");
    model.set("lead_id", "valid");
    expect(model.errors.value.fields.lead_id).toBeUndefined();
  });
});
