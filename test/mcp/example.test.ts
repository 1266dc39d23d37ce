import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { describe, it } from 'node:test';
import { runModernWalkthrough, runWalkthrough } from '../../examples/mcp-server/client.js';

function startExample(env: Record<string, string>): { child: ChildProcess; ready: Promise<string>; exited: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/mcp-server/server.ts'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (match) resolve(match[1] as string);
    });
    child.once('exit', () => reject(new Error(`example exited before it was ready: ${stderr}`)));
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
  return { child, ready, exited };
}

describe('examples/mcp-server', () => {
  it('starts with no environment and serves both eras on /mcp: a 2025 client through connect, authenticate and call, a 2026-07-28 client by bearer token', async () => {
    const example = startExample({ PORT: '0' });
    try {
      const url = await example.ready;
      const result = await runWalkthrough(url, 'alice');
      assert.match(result.before, /^Permission denied/);
      assert.equal(result.whoami, 'alice');
      assert.match(result.own, /"access_token":"demo-[0-9a-f]{24}"/);
      assert.deepEqual(result.other, { isError: true, text: 'Permission denied: this session is not authorized for that account.' });

      const modern = await runModernWalkthrough(url, 'bob');
      assert.equal(modern.unauthenticated.status, 401);
      assert.match(modern.unauthenticated.challenge ?? '', /^Bearer error="invalid_token".*resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"/);
      assert.deepEqual(modern.unauthenticated.metadata, { resource: `${url}/mcp`, authorization_servers: [`${url}/`] });
      assert.equal(modern.whoami, 'bob');
      assert.match(modern.own, /"access_token":"demo-[0-9a-f]{24}"/);
      assert.deepEqual(modern.other, { isError: true, text: 'Permission denied: this session is not authorized for that account.' });
      assert.equal(modern.replayedByOther, 'Invalid or expired requestState');
      assert.equal(modern.transfer, 'transferred 5 for bob');
    } finally {
      example.child.kill('SIGTERM');
      await example.exited;
    }
  });

  it('refuses to start in production without SESSION_SECRET, naming the variable', async () => {
    const example = startExample({ PORT: '0', NODE_ENV: 'production' });
    example.ready.catch(() => undefined);
    const { code, stderr } = await example.exited;
    assert.equal(code, 1);
    assert.match(stderr, /SESSION_SECRET is not set; generate a key with: .*\(NODE_ENV=production: keys are never generated\)/);
  });
});
