import { useEffect } from "preact/hooks";
import type { RescoreBannerModel } from "./model.ts";

/** While a re-score runs: which version, and how far it is, as a progress bar. */
export function RescoreBanner({ model }: { model: RescoreBannerModel }) {
  useEffect(() => model.watch(), [model]);
  const rescore = model.rescore.value;
  if (!rescore || !model.running.value) return null;
  const { leads_done, leads_total, fraction } = rescore.progress;
  const percent = Math.floor(fraction * 100);
  const label =
    rescore.state === "queued"
      ? `Re-scoring every lead with rule set version ${rescore.version}: starting…`
      : `Re-scoring every lead with rule set version ${rescore.version}: ${leads_done.toLocaleString("en-US")} of ${leads_total.toLocaleString("en-US")} leads (${percent}%)`;
  return (
    <div class="rescore-banner" role="status" data-testid="rescore-banner">
      <span>{label}</span>
      <progress max={100} value={percent} aria-label="Re-score progress">
        {percent}%
      </progress>
    </div>
  );
}
