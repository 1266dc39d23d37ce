/**
 * The `fixation-guard` binary as users get it: built by tsup with the package's own config
 * (ESM, code splitting, Node 20 target), into a private directory so parallel test files
 * never race on `dist/`, then run as a child process with plain `node` — no tsx, no sources.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { RequestListener } from 'node:http';
import http from 'node:http';
import { build } from 'tsup';

const root = resolve(import.meta.dirname, '../../..');

export interface BuiltCli {
  /** The built `attack-suite/cli.js`, the file the package's `bin` names. */
  bin: string;
  dir: string;
  dispose(): void;
}

export async function buildCli(): Promise<BuiltCli> {
  const dir = join(root, '.tmp', `attack-cli-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  await build({
    // The package's tsup.config.ts, with only the CLI entry, no declarations and a private outDir.
    entry: { 'attack-suite/cli': join(root, 'src/attack-suite/cli.ts') },
    outDir: dir,
    format: ['esm'],
    dts: false,
    sourcemap: false,
    silent: true,
  });
  return { bin: join(dir, 'attack-suite', 'cli.js'), dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built binary (never in a TTY: stdout and stderr are pipes). */
export function runCli(cli: BuiltCli, args: string[], options: { cwd?: string } = {}): Promise<CliRun> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [cli.bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: options.cwd ?? root, env: { ...process.env, NO_COLOR: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** Serves an app on an ephemeral loopback port. */
export async function serve(app: RequestListener): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = http.createServer(app);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
