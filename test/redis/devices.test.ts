import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { guarded } from '../../src/index.js';
import { buildApp, https, me, request } from '../helpers.js';
import { connectedStores, uniquePrefix } from './support.js';

describe('devices page data on Redis', () => {
  const opened: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const stores of opened) await stores.close();
  });

  it('keeps login meta through the Redis index, names this device by its handle, and revokes another by handle', async () => {
    const stores = await connectedStores(uniquePrefix('devices'));
    opened.push(stores);
    const { app, guard } = buildApp({ store: stores.store, index: stores.index }, (a) => {
      a.post('/login-device', async (req, res, next) => {
        try {
          await guarded(req).login('alice', { meta: { device: String((req.body as { device: string }).device) } });
          res.json({ handle: req.sessionGuard?.sessionHandle });
        } catch (err) {
          next(err);
        }
      });
    });
    const laptop = await https(request(app).post('/login-device')).send({ device: 'Firefox on Linux' }).expect(200);
    const phone = await https(request(app).post('/login-device')).send({ device: 'Safari on iOS' }).expect(200);
    const listed = await guard.listSessions('alice');
    assert.deepEqual(listed.map((s) => s.meta?.device), ['Firefox on Linux', 'Safari on iOS']);
    assert.deepEqual(listed.map((s) => s.handle), [laptop.body.handle, phone.body.handle]);
    assert.equal(await guard.revokeSession('alice', phone.body.handle as string), true);
    const phoneCookie = (phone.headers['set-cookie'] as unknown as string[])[0]?.split(';')[0] as string;
    const laptopCookie = (laptop.headers['set-cookie'] as unknown as string[])[0]?.split(';')[0] as string;
    assert.equal((await me(app, phoneCookie)).body.error?.code, 'SESSION_REVOKED');
    await me(app, laptopCookie).expect(200);
    assert.deepEqual((await guard.listSessions('alice')).map((s) => s.meta?.device), ['Firefox on Linux']);
  });
});
