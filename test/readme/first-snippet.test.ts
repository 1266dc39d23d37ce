import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import type express from 'express';
import request from 'supertest';

/**
 * The README's first snippet, run as written: the app a new user copies, on plain
 * http://localhost, as they would try it first. Only the user's own `users.verify` is supplied.
 */
const root = resolve(import.meta.dirname, '../..');
const scratch = join(root, '.tmp', 'readme-first-snippet');

function firstSnippet(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const match = /^```ts\n([\s\S]*?)^```/m.exec(readme);
  assert.ok(match, 'the README has a ts snippet');
  return match[1] as string;
}

const USERS = `const users = {
  async verify(username: string, password: string) {
    return username === 'alice' && password === 'alice-password' ? { id: 'alice' } : undefined;
  },
};
`;

/** Writes the snippet as a module (its `fixation-guard` import pointed at the sources) and loads it under `env`. */
async function loadSnippetApp(name: string, nodeEnv: string): Promise<express.Express> {
  mkdirSync(scratch, { recursive: true });
  const code = firstSnippet().replace(/from 'fixation-guard'/g, `from ${JSON.stringify(pathToFileURL(join(root, 'src', 'index.ts')).href)}`);
  const file = join(scratch, `${name}.ts`);
  writeFileSync(file, `${USERS}${code}\nexport { app };\n`);
  const saved = { env: process.env.NODE_ENV, secret: process.env.SESSION_SECRET };
  process.env.NODE_ENV = nodeEnv;
  process.env.SESSION_SECRET = 'readme-snippet-secret-that-is-long-enough-0123';
  try {
    return ((await import(pathToFileURL(file).href)) as { app: express.Express }).app;
  } finally {
    if (saved.env === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = saved.env;
    if (saved.secret === undefined) delete process.env.SESSION_SECRET;
    else process.env.SESSION_SECRET = saved.secret;
  }
}

describe("the README's first snippet", () => {
  const servers: Server[] = [];
  after(() => {
    for (const server of servers) server.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  async function listen(app: express.Express): Promise<string> {
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    await new Promise((resolve) => server.once('listening', resolve));
    return `http://localhost:${(server.address() as AddressInfo).port}`;
  }

  it('works as written on plain http://localhost in development: login, /me 200, logout', async () => {
    const url = await listen(await loadSnippetApp('development', 'development'));
    const agent = request.agent(url);
    await agent.get('/me').expect(401);
    const login = await agent.post('/login').send({ username: 'alice', password: 'alice-password' }).expect(200);
    assert.deepEqual(login.body, { user: 'alice' });
    assert.ok(login.headers['set-cookie'], 'the login sets a cookie the browser can keep over http://');
    const me = await agent.get('/me').expect(200);
    assert.deepEqual(me.body, { user: 'alice' });
    await agent.post('/logout').expect(204);
    await agent.get('/me').expect(401);
    await agent.post('/login').send({ username: 'alice', password: 'wrong' }).expect(401);
  });

  it('weakens nothing in production: the MemoryStore default is refused at startup, naming the fix', async () => {
    await assert.rejects(loadSnippetApp('production', 'production'), /MemoryStore is refused in production.*Pass `store`/);
  });
});
