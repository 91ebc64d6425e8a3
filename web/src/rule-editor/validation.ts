// The edge's own schemas for rules and groups, loaded when a form is first checked: zod stays out of the first load.
export { parseRule, parseRuleGroup } from "@leadscore/contracts";
