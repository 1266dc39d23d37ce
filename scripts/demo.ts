/**
 * `npm run demo`: starts examples/basic-login (protected) and examples/vulnerable-app on free
 * ports with their test clocks, runs the fixation attack suite against both, prints the two
 * reports side by side, stops both servers, and exits 0 only when the protected app resisted
 * every applicable attack and the vulnerable one fell to session fixation.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { formatComparison, formatReport, runFixationAttacks, type FixationReport } from '../src/attack-suite/index.js';

const READY_TIMEOUT_MS = 30_000;
const color = process.stdout.isTTY === true && !process.env.NO_COLOR;

interface Example {
  title: string;
  entry: string;
}

const EXAMPLES: readonly Example[] = [
  { title: 'basic-login', entry: 'examples/basic-login/server.ts' },
  { title: 'vulnerable-app', entry: 'examples/vulnerable-app/server.ts' },
];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

interface Running {
  child: ChildProcess;
  url: string;
  output: string[];
}

/** Starts an example and resolves with its URL once it prints its ready line. */
async function start(example: Example): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', example.entry], {
    env: { ...process.env, PORT: String(port), TEST_CLOCK: '1', NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const output: string[] = [];
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => output.push(line));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${example.title} printed no "listening on" line within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      output.push(line);
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${example.title} exited with ${code} before it was ready:\n${output.join('\n')}`));
    });
  });
  return { child, url, output };
}

/** Every example started, even one that never got ready, so that all of them are stopped. */
const children: ChildProcess[] = [];

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

const attackOptions = {
  loginBody: { username: 'alice', password: 'alice-password' },
  elevatePath: '/elevate',
  logoutAllPath: '/logout-all',
  clockPath: '/__test/clock',
};

let running: Running[] = [];
let code = 1;
try {
  running = await Promise.all(EXAMPLES.map(start));
  const reports: FixationReport[] = [];
  for (const [i, example] of EXAMPLES.entries()) {
    const server = running[i] as Running;
    console.log(`Attacking ${example.title} at ${server.url} …`);
    reports.push(await runFixationAttacks(server.url, attackOptions));
  }
  const [protectedReport, vulnerableReport] = reports as [FixationReport, FixationReport];
  for (const [i, example] of EXAMPLES.entries()) {
    console.log(`\n=== ${example.title} ===\n`);
    console.log(formatReport(reports[i] as FixationReport, { color, evidence: i === 1 }));
  }
  console.log('\n=== side by side ===\n');
  console.log(formatComparison(EXAMPLES.map((e, i) => ({ title: e.title, report: reports[i] as FixationReport })), { color }));

  const fixation = vulnerableReport.results.find((r) => r.id === 'planted-id-survives-login');
  const protectedOk = protectedReport.summary.secure;
  const caught = fixation?.outcome === 'fail';
  console.log('');
  console.log(protectedOk ? '✓ basic-login resisted every applicable attack.' : '✗ basic-login fell to at least one attack.');
  console.log(caught ? '✓ vulnerable-app was caught: a planted pre-login id survives its login.' : '✗ vulnerable-app was not caught by planted-id-survives-login.');
  code = protectedOk && caught ? 0 : 1;
} catch (err) {
  console.error(`demo: ${(err as Error).message}`);
  for (const server of running) console.error(server.output.join('\n'));
  code = 1;
} finally {
  await Promise.all(children.map(stop));
}
process.exit(code);
