// Replaces the `<!-- contents -->` line of the assembled README (stdin → stdout) with a table of
// contents built from its `##` and `###` headings, with GitHub's anchors (duplicates get -1, -2…).
import { readFileSync } from 'node:fs';

const MARKER = '<!-- contents -->';
const text = readFileSync(0, 'utf8');
const lines = text.split('\n');

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading) {
  return heading
    .replace(/`/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

const headings = [];
const seen = new Map();
let fence = false;
for (const line of lines) {
  if (/^(```|~~~)/.test(line)) fence = !fence;
  if (fence) continue;
  const match = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
  if (!match && line !== MARKER) continue;
  // The contents' own heading takes its anchor first, where the marker stands.
  const [level, title] = match ? [match[1].length, match[2]] : [2, 'Contents'];
  const base = slug(title);
  const n = seen.get(base) ?? 0;
  seen.set(base, n + 1);
  headings.push({ level, title, anchor: n === 0 ? base : `${base}-${n}`, marker: !match });
}

const toc = ['## Contents', ''];
for (const h of headings) {
  if (h.marker || h.level === 1) continue;
  const link = `[${h.title.replace(/`/g, '')}](#${h.anchor})`;
  if (h.level === 2) toc.push(`- ${link}`);
  else if (h.level === 3) {
    const last = toc.length - 1;
    toc[last] += toc[last].includes(' — ') ? ` · ${link}` : ` — ${link}`;
  }
}

const count = lines.filter((line) => line === MARKER).length;
if (count !== 1) {
  process.stderr.write(`readme-contents: expected one "${MARKER}" line, found ${count}\n`);
  process.exit(1);
}
process.stdout.write(lines.map((line) => (line === MARKER ? toc.join('\n') : line)).join('\n'));
