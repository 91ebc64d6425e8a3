// Which webhook URLs are acceptable. A webhook makes the server send requests wherever a user says, so in production
// it must not be pointed at the deployment's own network (server-side request forgery, see SECURITY.md): local names
// and literal non-public addresses are refused here, and the dispatcher checks every address a name resolves to
// again when it connects — both with the one address rule, `isNonPublicAddress` in contracts.
import { isIpAddress, isNonPublicAddress } from "@leadscore/contracts";

/** Why `raw` cannot be a webhook URL, or null when it can. */
export function webhookUrlProblem(raw: string, allowPrivate: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "must be an absolute http(s) URL";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return "must be an http or https URL";
  if (url.username !== "" || url.password !== "") return "must not contain credentials";
  if (raw.length > 2048) return "must be at most 2048 characters";
  if (allowPrivate) return null;
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (host === "localhost" || host.endsWith(".localhost") || host.endsWith(".local") || host.endsWith(".internal")) {
    return "must not name a local host";
  }
  if (isIpAddress(host) && isNonPublicAddress(host)) {
    return "must not be a loopback, link-local, private or other non-public address";
  }
  return null;
}
