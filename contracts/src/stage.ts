export const STAGES = ["cold", "warm", "hot", "qualified"] as const;
export type Stage = (typeof STAGES)[number];

/** Lower bounds of warm, hot and qualified. */
export type StageThresholds = readonly [number, number, number];
export const DEFAULT_STAGE_THRESHOLDS: StageThresholds = [100, 300, 600];

export function stageFor(score: number, thresholds: StageThresholds = DEFAULT_STAGE_THRESHOLDS): Stage {
  if (score >= thresholds[2]) return "qualified";
  if (score >= thresholds[1]) return "hot";
  if (score >= thresholds[0]) return "warm";
  return "cold";
}
