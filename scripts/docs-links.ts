// Checks relative links in Markdown files: each must lead to an existing file or folder and, when it names an
// `#anchor` in a Markdown file, to a heading (or an HTML `id`) there, slugged as GitHub renders it.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const FENCE = /^\s*(```|~~~)/;
const HEADING = /^#{1,6}\s+(.*?)\s*#*\s*$/;
const INLINE_CODE = /`+[^`]*`+/g;
const INLINE_LINK = /!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;
const REFERENCE_DEFINITION = /^ {0,3}\[[^\]\n]+\]:[ \t]*<?([^\s>]+)>?(?:[ \t]+"[^"\n]*")?[ \t]*$/gm;
const HTML_ID = /<[a-z][^>]*\s(?:id|name)="([^"]+)"/gi;
const SCHEME = /^[a-z][a-z0-9+.-]*:|^\/\//i;

/** The lines of a Markdown text, those of fenced code blocks (and their fences) blanked. */
function proseLines(text: string): string[] {
  let fenced = false;
  return text.split("\n").map((line) => {
    if (FENCE.test(line)) {
      fenced = !fenced;
      return "";
    }
    return fenced ? "" : line;
  });
}

/** A heading's anchor as GitHub makes it: rendered text, lowercase, punctuation dropped, each space a hyphen. */
export function githubSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]+>/g, "")
    .replace(/`/g, "")
    .replace(/\*/g, "");
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, "")
    .replace(/ /g, "-");
}

/** Every anchor a Markdown text offers: its headings' slugs (repeats numbered as GitHub does) and HTML ids. */
export function markdownAnchors(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(text)) {
    const heading = HEADING.exec(line)?.[1];
    if (heading !== undefined) {
      const slug = githubSlug(heading);
      const count = seen.get(slug) ?? 0;
      seen.set(slug, count + 1);
      anchors.add(count === 0 ? slug : `${slug}-${count}`);
    }
    for (const match of line.matchAll(HTML_ID)) if (match[1]) anchors.add(match[1]);
  }
  return anchors;
}

/** The link targets of a Markdown text, outside code; a link may wrap within its paragraph. */
export function linkTargets(text: string): string[] {
  const targets: string[] = [];
  for (const paragraph of proseLines(text)
    .join("\n")
    .split(/\n\s*\n/)) {
    const prose = paragraph.replace(INLINE_CODE, "");
    for (const match of prose.matchAll(INLINE_LINK)) if (match[1]) targets.push(match[1]);
    for (const match of prose.matchAll(REFERENCE_DEFINITION)) if (match[1]) targets.push(match[1]);
  }
  return targets;
}

/** Every relative link in `files` (paths from `root`) that leads nowhere, as `file: target (why)`. */
export function brokenLinks(root: string, files: readonly string[]): string[] {
  const anchorsOf = new Map<string, Set<string>>();
  const anchors = (path: string): Set<string> => {
    let found = anchorsOf.get(path);
    if (!found) {
      found = markdownAnchors(readFileSync(path, "utf8"));
      anchorsOf.set(path, found);
    }
    return found;
  };
  const broken: string[] = [];
  for (const file of files) {
    const source = join(root, file);
    for (const target of linkTargets(readFileSync(source, "utf8"))) {
      if (SCHEME.test(target)) continue;
      const hash = target.indexOf("#");
      const pathPart = decodeURI(hash === -1 ? target : target.slice(0, hash));
      const anchor = hash === -1 ? "" : decodeURIComponent(target.slice(hash + 1));
      const path =
        pathPart === "" ? source : pathPart.startsWith("/") ? join(root, pathPart) : resolve(dirname(source), pathPart);
      if (!existsSync(path)) {
        broken.push(`${file}: ${target} (no ${relative(root, path)})`);
      } else if (anchor !== "" && path.endsWith(".md") && !anchors(path).has(anchor)) {
        broken.push(`${file}: ${target} (no heading #${anchor} in ${relative(root, path)})`);
      }
    }
  }
  return broken;
}
