import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, mock } from 'node:test';
import { AUDIT_EVENTS, jsonlSink, memorySink, type AuditEvent, type AuditSink } from '../../src/index.js';
import { buildApp, https, idOf, loginWith, request, SECRET, setCookie, signedCookie } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'fixation-guard-audit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const FORGED_ID = 'attacker-chosen-session-id-forged-000000000';

/**
 * Drives every kind of event the core emits through a real app and records every secret-ish
 * string the client ever saw: raw ids (from every Set-Cookie), the full cookie values, the
 * forged id, and the secret.
 */
async function fullFlow(sinks: AuditSink[]) {
  const built = buildApp({ audit: sinks, idleTimeout: '30m' }, (app) => app.get('/whoami', (req, res) => res.json({ user: req.session?.user ?? null })));
  const { app, clock } = built;
  const secrets = new Set<string>([SECRET, FORGED_ID]);
  const seen = (res: request.Response): string | undefined => {
    for (const line of (res.headers['set-cookie'] as unknown as string[] | undefined) ?? []) {
      const pair = line.split(';')[0] as string;
      const value = pair.slice(pair.indexOf('=') + 1);
      if (!value) continue;
      secrets.add(value);
      secrets.add(decodeURIComponent(value));
      secrets.add(idOf(pair));
    }
    return setCookie(res);
  };
  const get = (path: string, cookie?: string) => {
    const test = https(request(app).get(path));
    return cookie ? test.set('Cookie', cookie) : test;
  };
  const post = (path: string, cookie?: string) => {
    const test = https(request(app).post(path));
    return cookie ? test.set('Cookie', cookie) : test;
  };

  const planted = seen(await get('/').expect(200)) as string; // session_created
  const victim = seen(await loginWith(app, planted).expect(200)) as string; // session_rotated, login
  await get('/me', planted).expect(401); // rotated_session_id_presented
  const elevated = seen(await post('/elevate', victim).expect(200)) as string; // elevated
  seen(await get('/me', elevated).expect(200));
  await get('/', signedCookie(FORGED_ID)).expect(200).then(seen); // unknown_session_id
  const value = decodeURIComponent(elevated.slice(elevated.indexOf('=') + 1));
  const tampered = `__Host-sid=${encodeURIComponent(`${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`)}`;
  await get('/me', tampered).expect(401); // session_cookie_tampered
  await get(`/me?sid=${idOf(elevated)}`).expect(400); // url_session_id_rejected
  await get(`/me;jsessionid=${encodeURIComponent(value)}`).expect(400);
  await get('/me', `${planted}; ${elevated}`).expect(400); // cookie_tossing
  const naive = seen(await get('/').expect(200)) as string;
  await post('/naive-login', naive).send({ username: 'mallory' }).expect(500); // fixation_tripwire
  await get('/whoami', naive).expect(200);
  const other = seen(await loginWith(app, undefined, 'bob').expect(200)) as string;
  clock.advance('31m');
  await get('/me', other).expect(401); // session_expired
  seen(await post('/logout', elevated).expect(204)); // idle-expired by now: still a clean 204
  const fresh = seen(await loginWith(app, undefined, 'carol').expect(200)) as string;
  seen(await post('/logout', fresh).expect(204));
  await get('/me', fresh).expect(401);
  return { ...built, secrets: [...secrets].filter((s) => s.length >= 8) };
}

function assertNoSecrets(haystack: string, secrets: string[], where: string): void {
  for (const secret of secrets) {
    assert.ok(!haystack.includes(secret), `${where} contains a raw id, cookie value or the secret: ${secret.slice(0, 12)}…`);
  }
}

describe('audit', () => {
  it('across a full flow, no event carries a raw session id, a cookie value or the secret, and every event is in the catalogue', async () => {
    const memory = memorySink();
    const errors = mock.method(console, 'error', () => undefined);
    let result: Awaited<ReturnType<typeof fullFlow>>;
    try {
      result = await fullFlow([memory]);
    } finally {
      errors.mock.restore();
    }
    const { secrets, guard } = result;
    assert.ok(secrets.length >= 20, `collected ${secrets.length} secrets`);
    const types = new Set(memory.events.map((e) => e.type));
    for (const expected of [
      'session_created', 'session_rotated', 'login', 'rotated_session_id_presented', 'elevated', 'unknown_session_id',
      'session_cookie_tampered', 'url_session_id_rejected', 'cookie_tossing', 'fixation_tripwire', 'session_expired', 'logout',
    ] as const) {
      assert.ok(types.has(expected), `the flow produced ${expected}`);
    }
    for (const event of memory.events) {
      assertNoSecrets(JSON.stringify(event), secrets, `event ${event.type}`);
      assert.ok(event.type in AUDIT_EVENTS, `${event.type} is catalogued`);
      assert.equal(event.severity, AUDIT_EVENTS[event.type]);
      assert.ok(!Number.isNaN(Date.parse(event.time)));
      if (event.session !== undefined) assert.match(event.session, /^[A-Za-z0-9_-]{16}$/);
      if (event.previousSession !== undefined) assert.match(event.previousSession, /^[A-Za-z0-9_-]{16}$/);
    }
    // The tripwire's development message names the route and the principal, never the id.
    assert.ok(errors.mock.calls.length >= 1, 'the tripwire explained itself in development');
    for (const call of errors.mock.calls) assertNoSecrets(call.arguments.map(String).join(' '), secrets, 'console.error');
    // Hashes still correlate: the login event names the planted id by its keyed hash.
    const login = memory.of('login')[0] as AuditEvent;
    const rotated = memory.of('session_rotated')[0] as AuditEvent;
    assert.equal(login.previousSession, rotated.previousSession);
    assert.equal(login.session, rotated.session);
    assert.equal(typeof guard.auditor.hash('x'), 'string');
  });

  it('the same id hashes the same in every event and on every instance sharing the secret, and differently under another secret', async () => {
    const a = buildApp();
    const b = buildApp();
    const c = buildApp({ secret: 'a-completely-different-secret-0123456789' });
    assert.equal(a.guard.auditor.hash('some-id'), b.guard.auditor.hash('some-id'));
    assert.notEqual(a.guard.auditor.hash('some-id'), c.guard.auditor.hash('some-id'));
    assert.notEqual(a.guard.auditor.hash('some-id'), a.guard.auditor.hash('some-id2'));
    const cookie = setCookie(await loginWith(a.app, undefined).expect(200)) as string;
    assert.equal(a.audit.of('login')[0]?.session, a.guard.auditor.hash(idOf(cookie)));
  });

  it('the client address is read for events only: a login with no sink never asks Express for it, one with a sink records it', async () => {
    for (const listening of [false, true]) {
      const { app, audit } = buildApp(listening ? {} : { audit: [] });
      let reads = 0;
      // req.ip parses the forwarding headers against the trust setting on every read.
      const ip = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(app.request), 'ip')?.get as () => string;
      Object.defineProperty(app.request, 'ip', { configurable: true, get() { reads++; return ip.call(this); } });
      const before = setCookie(await https(request(app).get('/')).expect(200)) as string;
      reads = 0;
      await loginWith(app, before).expect(200);
      if (listening) {
        assert.ok(reads >= 1, 'read for the events');
        assert.equal(audit.of('login')[0]?.ip, '127.0.0.1');
      } else {
        assert.equal(reads, 0, 'no sink: not read');
      }
    }
  });

  it('jsonlSink writes one JSON object per line to a file, with a level label, and nothing secret', async () => {
    const path = join(dir, 'nested', 'audit.jsonl');
    const file = jsonlSink(path);
    const memory = memorySink();
    const errors = mock.method(console, 'error', () => undefined);
    let secrets: string[];
    try {
      ({ secrets } = await fullFlow([memory, file]));
    } finally {
      errors.mock.restore();
    }
    file.flush();
    const text = readFileSync(path, 'utf8');
    assert.ok(text.endsWith('\n'));
    const lines = text.trimEnd().split('\n');
    assert.equal(lines.length, memory.events.length, 'one line per event');
    const parsed = lines.map((line) => JSON.parse(line) as AuditEvent & { level: string });
    parsed.forEach((entry, i) => {
      const event = memory.events[i] as AuditEvent;
      assert.equal(entry.type, event.type);
      assert.equal(entry.level, event.severity);
      assert.equal(entry.time, event.time);
      assert.equal(entry.session, event.session);
    });
    assertNoSecrets(text, secrets, 'the JSONL file');
  });

  it('in development, the tripwire explains itself once on stderr (naming the route and the principal, never the id)', async () => {
    const { app, audit } = buildApp();
    const errors = mock.method(console, 'error', () => undefined);
    try {
      const planted = setCookie(await https(request(app).get('/')).expect(200)) as string;
      await https(request(app).post('/naive-login')).set('Cookie', planted).send({ username: 'alice' }).expect(500);
      // The refused save completes just after the response: give it a few ticks.
      for (let i = 0; i < 20 && errors.mock.calls.length === 0; i++) await new Promise((r) => setImmediate(r));
      assert.equal(errors.mock.calls.length, 1);
      const message = String(errors.mock.calls[0]?.arguments[0]);
      assert.match(message, /without req\.login\(\)/);
      assert.match(message, /alice/);
      assert.ok(!message.includes(idOf(planted)));
      assert.equal(audit.of('fixation_tripwire').length, 1);
    } finally {
      errors.mock.restore();
    }
  });

  it('jsonlSink refuses an empty path', () => {
    assert.throws(() => jsonlSink(''), { name: 'TypeError', message: 'jsonlSink: `path` must be a non-empty string; got ""' });
  });

  it('a throwing sink never breaks a request; the other sinks still get every event, and the failure is reported once', async () => {
    const memory = memorySink();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    let calls = 0;
    const broken: AuditSink = () => {
      calls++;
      throw new Error('disk full');
    };
    try {
      const { app } = buildApp({ audit: [broken, memory] });
      const planted = setCookie(await https(request(app).get('/')).expect(200)) as string;
      const cookie = setCookie(await loginWith(app, planted).expect(200)) as string;
      await https(request(app).get('/me')).set('Cookie', cookie).expect(200);
      await https(request(app).get('/me')).set('Cookie', planted).expect(401);
      await https(request(app).get('/?sid=x')).expect(400);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    assert.ok(calls >= 4);
    assert.equal(calls, memory.events.length, 'the memory sink after the broken one saw every event');
    const reported = warnings.filter((w) => /an audit sink threw \(disk full\)/.test(w.message));
    assert.equal(reported.length, 1);
  });
});
