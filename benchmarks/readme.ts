/**
 * `npm run bench:readme`: puts the tables of the last run (benchmarks/results/latest.md) into the
 * "Latest results" section of docs/readme/benchmarks.md and regenerates README.md
 * (`bash scripts/readme.sh`), so that a full run is published in one command.
 *
 * Refuses a `--quick` run (its numbers are too short to publish) unless `--allow-quick` is given.
 * The analysis below the tables is prose: read it against the new numbers and edit it by hand.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const LATEST = `${ROOT}benchmarks/results/latest.md`;
const PART = `${ROOT}docs/readme/benchmarks.md`;
const HEADING = '### Latest results';

const latest = readFileSync(LATEST, 'utf8').trim();
if (!latest.startsWith(HEADING))
  throw new Error(
    `bench:readme: ${LATEST} does not start with "${HEADING}"; run \`npm run bench\` first`,
  );
if (latest.startsWith(`${HEADING} (\`--quick\` run`) && !process.argv.includes('--allow-quick')) {
  throw new Error(
    'bench:readme: the last run was a `--quick` run; publish a full run (`npm run bench`), or pass --allow-quick',
  );
}
const part = readFileSync(PART, 'utf8');
const start = part.indexOf(`\n${HEADING}`);
if (start === -1) throw new Error(`bench:readme: no "${HEADING}" section in ${PART}`);
// The section ends at the next third-level heading (the run's own tables use ####).
const next = part.indexOf('\n### ', start + 1);
const end = next === -1 ? part.length : next;
writeFileSync(PART, `${part.slice(0, start)}\n${latest}\n${part.slice(end)}`);
execFileSync('bash', [`${ROOT}scripts/readme.sh`], { stdio: 'inherit' });
process.stdout.write(
  `bench:readme: ${HEADING.slice(4)} in docs/readme/benchmarks.md and README.md updated from benchmarks/results/latest.md\n`,
);
