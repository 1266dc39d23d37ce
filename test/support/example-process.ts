/**
 * Runs an example server (`examples/basic-login` by default) as its own Node process, as a
 * fleet instance runs in production: its own event loop, Redis client and memory. Resolves
 * once it prints its ready line; `rssBytes()` samples its resident memory from /proc.
 *
 * The example is bundled once per test process with esbuild (dependencies stay external) and
 * run by plain `node`: compiling the sources through tsx in every instance would cost seconds
 * of CPU per start on a small machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { buildSync } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '../..');
const bundles = new Map<string, string>();

function bundle(script: string): string {
  let out = bundles.get(script);
  if (out === undefined) {
    out = join(ROOT, '.tmp', 'examples', `${basename(dirname(script))}-${process.pid}.mjs`);
    mkdirSync(dirname(out), { recursive: true });
    buildSync({ entryPoints: [join(ROOT, script)], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: out, logLevel: 'error' });
    bundles.set(script, out);
  }
  return out;
}

export interface ExampleProcess {
  readonly url: string;
  readonly pid: number;
  /** Resident set size in bytes (Linux /proc), or undefined where /proc is missing. */
  rssBytes(): number | undefined;
  /** Whatever it wrote to stderr (a crash leaves its trace here). */
  stderr(): string;
  stop(): Promise<void>;
}

const READY = /listening on (http:\/\/127\.0\.0\.1:\d+)/;

function withoutBackends(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { REDIS_URL: _url, REDIS_CLUSTER_URLS: _cluster, ...rest } = env;
  return rest;
}

export async function startExample(env: Record<string, string>, script = 'examples/basic-login/server.ts'): Promise<ExampleProcess> {
  const child: ChildProcess = spawn(process.execPath, [bundle(script)], {
    // Only the backend the caller names: the test runner's REDIS_URL / REDIS_CLUSTER_URLS must not leak in.
    env: { ...withoutBackends(process.env), PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    err = (err + chunk.toString()).slice(-20_000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${script} did not get ready within 30 s: ${err}`)), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = READY.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before it was ready: ${err}`));
    });
  });
  // Keep draining stdout so the child never blocks on a full pipe.
  child.stdout?.resume();
  return {
    url,
    pid: child.pid as number,
    rssBytes() {
      try {
        const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        return match ? Number(match[1]) * 1024 : undefined;
      } catch {
        return undefined;
      }
    },
    stderr: () => err,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3_000).unref();
      });
    },
  };
}
