// @vitest-environment happy-dom
import { signal } from "@preact/signals";
import { describe, expect, it } from "vitest";
import { ApiRequestError } from "../src/lib/api.ts";
import { RuleGroupsModel } from "../src/rule-groups/model.ts";
import { fakeApi } from "./fakes.ts";

const EMAIL = { _id: "email", label: "Email", max: 60 };

describe("the rule groups model", () => {
  async function setup(token = "admin-1") {
    const api = fakeApi();
    api.listRuleGroups.mockResolvedValue([EMAIL]);
    let changes = 0;
    const model = new RuleGroupsModel({ api, token: signal(token), onChange: () => (changes += 1) });
    await model.load();
    return { api, model, changes: () => changes };
  }

  it("creates a group with its max as a number, and says so", async () => {
    const { api, model, changes } = await setup();
    model.setNew("label", "Web");
    model.setNew("max", "200");
    await model.create();
    expect(api.createRuleGroup).toHaveBeenCalledWith({ label: "Web", max: 200 }, "admin-1");
    expect(model.groups.value.map((group) => group.label)).toEqual(["Email", "Web"]);
    expect(model.message.value).toBe("Group Web created");
    expect(changes()).toBe(1);
  });

  it("checks a new group with the edge's schema, each problem at its field", async () => {
    const { api, model } = await setup();
    model.setNew("max", "0");
    await model.create();
    expect(api.createRuleGroup).not.toHaveBeenCalled();
    expect(model.createErrors.value.at.label).toBe("must not be empty");
    expect(model.createErrors.value.at.max).toBe("must be at least 1");
    model.setNew("max", "5");
    expect(model.createErrors.value.at.max).toBeUndefined();
  });

  it("saves an edited max", async () => {
    const { api, model } = await setup();
    model.edit("email", { max: "80" });
    await model.save("email");
    expect(api.updateRuleGroup).toHaveBeenCalledWith("email", { label: "Email", max: 80 }, "admin-1");
    expect(model.drafts.value.email).toBeUndefined();
  });

  it("keeps a group rules still name, showing the edge's refusal on its row", async () => {
    const { api, model } = await setup();
    api.deleteRuleGroup.mockRejectedValueOnce(
      new ApiRequestError(409, "CONFLICT", 'group "email" is used by rules: open, click', [
        { path: "rules", message: "open" },
        { path: "rules", message: "click" },
      ]),
    );
    await model.remove("email");
    expect(model.groups.value).toHaveLength(1);
    expect(model.rowErrors.value.email).toBe('group "email" is used by rules: open, click');
    await model.remove("email");
    expect(model.groups.value).toHaveLength(0);
  });

  it("sends nothing without the admin token", async () => {
    const { api, model } = await setup("");
    model.setNew("label", "Web");
    model.setNew("max", "10");
    await model.create();
    expect(api.createRuleGroup).not.toHaveBeenCalled();
    expect(model.createErrors.value.form[0]).toMatch(/admin token/);
  });
});
