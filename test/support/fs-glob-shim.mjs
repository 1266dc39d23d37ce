// `node:fs` with a `globSync` for Node 20, enough for the conformance CLI: it only globs
// `**/<file name>` (the checks.json files of a results directory).
import fs from 'node:fs';
import { basename } from 'node:path';

export * from 'node:fs';
export default fs;

export function globSync(pattern, options = {}) {
  if (typeof fs.globSync === 'function') return fs.globSync(pattern, options);
  const match = /^\*\*\/([^*?[\]{}/]+)$/.exec(String(pattern));
  if (!match) throw new Error(`fs-glob-shim: only '**/<name>' patterns are supported on this Node; got ${pattern}`);
  const entries = fs.readdirSync(options.cwd ?? '.', { recursive: true });
  return entries.map(String).filter((entry) => basename(entry) === match[1]);
}
