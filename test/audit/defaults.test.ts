import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { startRedisServer, type RunningRedis } from '../../scripts/redis-server.js';
import { consoleSink, guarded, MemorySessionIndex, sessionGuard, type AuditEvent } from '../../src/index.js';
import { createRedisSessionStores } from '../../src/redis/index.js';
import { https, idOf, request, SECRET, setCookie, signedCookie } from '../helpers.js';
import { uniquePrefix } from '../redis/support.js';
import { PlainStore } from '../support/plain-store.js';

/** Lines written through console.error while `fn` runs (the default sinks write there). */
async function consoleLines(fn: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => {
    lines.push(args.map(String).join(' '));
  };
  try {
    await fn();
  } finally {
    console.error = original;
  }
  return lines;
}

function app(options: Record<string, unknown>) {
  const a = express();
  a.use(express.json());
  a.use(sessionGuard({ secret: SECRET, trustProxy: true, ...options }));
  a.get('/', (req, res) => {
    req.session.visits = 1;
    res.json({ ok: true });
  });
  a.post('/login', async (req, res) => {
    await guarded(req).login('alice');
    res.json({ ok: true });
  });
  return a;
}

describe('defaults that keep outages and refusals from being silent', () => {
  it('outside production, a guard without `audit` prints each event as one readable line, with no raw id', async () => {
    const a = app({ env: 'development' });
    const forged = signedCookie('an-id-the-server-never-issued-0123456789');
    let cookie = '';
    const lines = await consoleLines(async () => {
      await https(request(a).get('/')).set('Cookie', forged).expect(200);
      cookie = setCookie(await https(request(a).post('/login')).expect(200)) as string;
    });
    const unknown = lines.find((line) => line.includes('unknown_session_id'));
    assert.ok(unknown, `an unknown id is reported: ${JSON.stringify(lines)}`);
    assert.match(unknown, /^fixation-guard audit WARN unknown_session_id session=[\w-]{16} ip=/);
    assert.ok(lines.some((line) => /^fixation-guard audit INFO login principal="alice" session=/.test(line)), JSON.stringify(lines));
    const output = lines.join('\n');
    for (const raw of ['an-id-the-server-never-issued', idOf(cookie)]) assert.ok(!output.includes(raw), 'no raw session id in the console');
  });

  for (const [what, options] of [
    ['in production', { env: 'production', store: new PlainStore(), index: new MemorySessionIndex() }],
    ["with NODE_ENV 'test'", { env: 'test' }],
    ['with `audit: []`', { env: 'development', audit: [] }],
    ['with a sink of its own', { env: 'development', audit: (_event: AuditEvent) => undefined }],
  ] as const) {
    it(`prints nothing ${what}`, async () => {
      const a = app(options);
      const lines = await consoleLines(async () => {
        await https(request(a).get('/')).set('Cookie', signedCookie('never-issued-id-0123456789')).expect(200);
      });
      assert.deepEqual(lines.filter((line) => line.startsWith('fixation-guard audit')), []);
    });
  }

  it('consoleSink filters by severity', () => {
    const written: string[] = [];
    const sink = consoleSink({ minSeverity: 'warn', write: (line) => written.push(line) });
    sink({ type: 'login', severity: 'info', time: '2030-01-01T00:00:00.000Z', principal: 'alice' });
    sink({ type: 'store_unavailable', severity: 'error', time: '2030-01-01T00:00:00.000Z', reason: 'get', detail: { error: 'ECONNREFUSED' } });
    assert.deepEqual(written, ['fixation-guard audit ERROR store_unavailable reason="get" error="ECONNREFUSED"']);
    assert.throws(() => consoleSink({ minSeverity: 'loud' as never }), /^Error: consoleSink: `minSeverity` must be 'info', 'warn' or 'error'; got "loud"$/);
  });

  describe("createRedisSessionStores's default onError", () => {
    let server: RunningRedis;
    before(async () => {
      server = await startRedisServer();
    });
    after(() => server.stop());

    it('outside production, says an outage once (not once per reconnect attempt) and says when Redis is back', async () => {
      const saved = process.env.NODE_ENV;
      process.env.NODE_ENV = 'development';
      let stores: ReturnType<typeof createRedisSessionStores> | undefined;
      try {
        const lines = await consoleLines(async () => {
          stores = createRedisSessionStores({ url: server.url, prefix: uniquePrefix('defaults'), reconnectMaxDelay: '20ms' });
          await stores.ready;
          const client = stores.client;
          let errors = 0;
          const threeErrors = new Promise<void>((resolve) => {
            client.on('error', () => {
              if (++errors === 3) resolve();
            });
          });
          await server.stop();
          await threeErrors;
          const back = new Promise<void>((resolve) => client.once('ready', () => resolve()));
          await server.restart();
          await back;
        });
        const redisLines = lines.filter((line) => line.startsWith('fixation-guard/redis'));
        assert.equal(redisLines.length, 2, JSON.stringify(redisLines));
        assert.match(redisLines[0] as string, /Redis connection error .*503 SESSION_STORE_UNAVAILABLE.*pass `onError`/);
        assert.match(redisLines[1] as string, /reachable again/);
      } finally {
        if (saved === undefined) delete process.env.NODE_ENV;
        else process.env.NODE_ENV = saved;
        await stores?.close();
      }
    });
  });
});
