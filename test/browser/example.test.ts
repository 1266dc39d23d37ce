/**
 * The example app in a real browser: Debian's chromium driven by playwright-core, the example
 * served over HTTPS (a self-signed certificate made for the run) so that the cookie is the
 * production one, `__Host-sid; Secure; HttpOnly; SameSite=Lax`. The victim's site is
 * https://localhost:PORT; the attacker's page is https://127.0.0.1:PORT2 — another *site* to
 * the browser (ports alone would not make one: Sec-Fetch-Site compares scheme and site only).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import express, { type Express } from 'express';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createLoginApp, type ExampleAppOptions } from '../../examples/shared/login-app.js';
import { launchChromium, selfSignedCertificate, serveHttps, type Certificate, type HttpsServer } from '../../scripts/chromium.js';

interface Site {
  origin: string;
  /** What the browser sent to POST /account/login, for the assertions on Fetch Metadata. */
  logins: Array<{ site: string | undefined; origin: string | undefined }>;
  server: HttpsServer;
}

let browser: Browser;
let certificate: Certificate;
/** One browser profile reused by the tests, its cookies cleared before each: a new context per test costs seconds. */
let shared: BrowserContext;
let sharedPage: Page;
const servers: HttpsServer[] = [];

/** `withoutFetchMetadata` drops the Sec-Fetch-* headers before the app sees them: a browser older than Fetch Metadata. */
async function site(options: ExampleAppOptions & { withoutFetchMetadata?: boolean } = {}): Promise<Site> {
  const { app } = createLoginApp({ ...options, guard: { plainHttpDevelopment: false, maxSessionsPerUser: 5, ...options.guard } });
  const logins: Site['logins'] = [];
  const outer: Express = express();
  outer.use((req, _res, next) => {
    if (req.method === 'POST' && req.path === '/account/login') logins.push({ site: req.get('sec-fetch-site'), origin: req.get('origin') });
    if (options.withoutFetchMetadata) for (const name of Object.keys(req.headers)) if (name.startsWith('sec-fetch-')) delete req.headers[name];
    next();
  });
  outer.use(app);
  const server = await serveHttps(outer, certificate);
  servers.push(server);
  return { origin: `https://localhost:${server.port}`, logins, server };
}

async function context(): Promise<BrowserContext> {
  return await browser.newContext({ ignoreHTTPSErrors: true });
}

/** The shared browser with no cookies (cookies ignore ports: every example here is on localhost). */
async function fresh(): Promise<{ ctx: BrowserContext; page: Page }> {
  await shared.clearCookies();
  return { ctx: shared, page: sharedPage };
}

async function logIn(page: Page, origin: string, username = 'alice', password = `${username}-password`): Promise<void> {
  await page.goto(`${origin}/account/login`);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(`${origin}/account`), page.click('button[type=submit]')]);
}

async function signedInAs(page: Page, origin: string): Promise<string | undefined> {
  await page.goto(`${origin}/account`);
  return new URL(page.url()).pathname === '/account' ? ((await page.textContent('#user')) ?? undefined) : undefined;
}

/** The attacker's page: auto-submits the sign-in form of `target` with the attacker's own account (bob). */
function attackerPage(target: string): string {
  return `<!doctype html><title>Win a prize</title>
<form id="f" method="post" action="${target}/account/login">
  <input name="username" value="bob"><input name="password" value="bob-password">
</form>
<script>document.getElementById('f').submit();</script>`;
}

describe('the example app in a real browser (chromium)', () => {
  let main: Site;
  let attacker: HttpsServer;
  before(async () => {
    certificate = selfSignedCertificate();
    browser = await launchChromium();
    shared = await context();
    sharedPage = await shared.newPage();
    main = await site();
    const evil = express();
    evil.get('/', (req, res) => res.type('html').send(attackerPage(String(req.query.target))));
    attacker = await serveHttps(evil, certificate);
    servers.push(attacker);
  });
  after(async () => {
    await browser?.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  it('logs in through the form and names the user on the account page', async () => {
    const { ctx, page } = await fresh();
    await logIn(page, main.origin, 'alice');
    assert.equal(await page.textContent('#user'), 'alice');
    const [cookie] = (await ctx.cookies(main.origin)).filter((c) => c.name === '__Host-sid');
    assert.ok(cookie, 'the browser keeps the __Host-sid cookie');
    assert.equal(cookie.secure, true);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Lax');
    assert.equal(cookie.path, '/');
    assert.deepEqual(main.logins.at(-1), { site: 'same-origin', origin: main.origin }, 'chromium marks its own form same-origin');
  });

  it('never lets a page script read the session cookie (document.cookie)', async () => {
    const { ctx, page } = await fresh();
    await logIn(page, main.origin, 'alice');
    const visible = await page.evaluate<string>('document.cookie');
    assert.doesNotMatch(visible, /__Host-sid/);
    assert.doesNotMatch(visible, /x-csrf-token/, 'nor the CSRF cookie');
    assert.ok((await ctx.cookies(main.origin)).some((c) => c.name === '__Host-sid'), 'while the browser does hold it');
  });

  it('lists both devices of a user, and revoking the other one ends it there on its next navigation', async () => {
    const isolated = await site(); // its own index: other tests' alice sessions stay out of the list
    const phone = await context();
    const [{ page: a }, b] = [await fresh(), await phone.newPage()];
    await logIn(a, isolated.origin, 'alice');
    await logIn(b, isolated.origin, 'alice');
    await a.goto(`${isolated.origin}/account/devices`);
    const rows = a.locator('tbody tr');
    assert.equal(await rows.count(), 2, 'both sessions are listed');
    assert.equal(await a.locator('tr[data-this-device]').count(), 1, 'exactly one is this device');
    assert.match((await a.textContent('tr[data-this-device]')) ?? '', /Headless Chrome on Linux.*this device/s);
    await Promise.all([a.waitForURL(`${isolated.origin}/account/devices`), a.click('tr:not([data-this-device]) button')]);
    assert.equal(await rows.count(), 1, 'the revoked device is gone from the list');
    assert.equal(await signedInAs(b, isolated.origin), undefined, 'the other device is signed out');
    assert.equal(new URL(b.url()).pathname, '/account/login');
    assert.match((await b.textContent('[role=status]')) ?? '', /signed out from another device/);
    assert.equal(await signedInAs(a, isolated.origin), 'alice', 'this device is still signed in');
    await phone.close();
  });

  /** A signed-out visitor of `victim` opens the attacker's page, which auto-submits the attacker's login. */
  async function crossSiteLogin(victim: Site): Promise<{ status: number | undefined; code: string | null; after: string | undefined }> {
    const { page } = await fresh();
    const answered = page.waitForResponse((r) => r.url() === `${victim.origin}/account/login` && r.request().method() === 'POST');
    await page.goto(`https://127.0.0.1:${attacker.port}/?target=${encodeURIComponent(victim.origin)}`);
    const response = await answered;
    await page.waitForLoadState();
    const code = (await page.$('[data-code]')) ? await page.getAttribute('[data-code]', 'data-code') : null;
    const result = { status: response.status(), code, after: await signedInAs(page, victim.origin) };
    return result;
  }

  it('lets a page on another site log the visitor in as the attacker when both defences are off', async () => {
    const open = await site({ csrfTokens: false, guard: { loginCsrf: false } });
    const result = await crossSiteLogin(open);
    assert.deepEqual(open.logins, [{ site: 'cross-site', origin: `https://127.0.0.1:${attacker.port}` }], 'what chromium sends from the other site');
    assert.equal(result.status, 303);
    assert.equal(result.after, 'bob', "the victim's browser is signed in to the attacker's account");
  });

  it('refuses that auto-submitted login with the guard\'s check alone (403 SESSION_CROSS_SITE_LOGIN)', async () => {
    const guarded = await site({ csrfTokens: false });
    const result = await crossSiteLogin(guarded);
    assert.equal(guarded.logins[0]?.site, 'cross-site');
    assert.equal(result.status, 403);
    assert.equal(result.code, 'SESSION_CROSS_SITE_LOGIN');
    assert.equal(result.after, undefined, 'no authenticated cookie was left');
  });

  it('refuses it on the example as shipped (guard check and csrf-csrf token)', async () => {
    const result = await crossSiteLogin(main);
    assert.equal(result.status, 403);
    assert.equal(result.after, undefined);
  });

  it("keeps Origin on the app's own login form by default, where helmet's no-referrer would refuse a browser without Fetch Metadata", async () => {
    const asShipped = await site({ csrfTokens: false, withoutFetchMetadata: true });
    const noReferrer = await site({ csrfTokens: false, withoutFetchMetadata: true, referrerPolicy: 'no-referrer' });
    const { page } = await fresh();
    await logIn(page, asShipped.origin, 'alice');
    assert.equal(asShipped.logins.at(-1)?.origin, asShipped.origin, 'Referrer-Policy: same-origin (the default) sends the real Origin');
    assert.equal(await signedInAs(page, asShipped.origin), 'alice');

    await fresh();
    await page.goto(`${noReferrer.origin}/account/login`);
    await page.fill('#username', 'alice');
    await page.fill('#password', 'alice-password');
    const [response] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/account/login') && r.request().method() === 'POST'), page.click('button[type=submit]')]);
    assert.equal(noReferrer.logins.at(-1)?.origin, 'null', 'no-referrer turns the own form\'s Origin into null');
    assert.equal(response.status(), 403, 'and the login-CSRF check must refuse null');
    assert.equal(await signedInAs(page, noReferrer.origin), undefined);
  });

  it('refuses as cookie tossing a same-named cookie a page script set on a narrower path (a name without __Host-)', async () => {
    const plainName = await site({ guard: { cookie: { name: 'sid' } } });
    const { ctx, page } = await fresh();
    // Planted before the victim has a session (chromium refuses a script cookie that would shadow
    // an HttpOnly one): by XSS here, or from a sibling subdomain with Domain=.
    await page.goto(`${plainName.origin}/nothing-here`);
    await page.evaluate("document.cookie = 'sid=planted-by-script; Path=/account; Secure; SameSite=Lax'");
    await page.goto(`${plainName.origin}/account/login`);
    assert.deepEqual((await ctx.cookies()).filter((c) => c.name === 'sid').map((c) => c.path).sort(), ['/', '/account'], 'the browser holds two sid cookies');
    await page.fill('#username', 'alice');
    await page.fill('#password', 'alice-password');
    const [response] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.click('button[type=submit]')]);
    assert.equal(response.status(), 400);
    assert.equal(JSON.parse(await response.text()).error?.code, 'SESSION_COOKIE_TOSSING');
    assert.deepEqual((await ctx.cookies()).filter((c) => c.name === 'sid'), [], 'both copies were cleared');
    await logIn(page, plainName.origin, 'alice');
    assert.equal(await signedInAs(page, plainName.origin), 'alice', 'a clean login works afterwards');
  });

  it('leaves nothing to toss with __Host-sid: the browser itself refuses the narrower-path cookie', async () => {
    const { ctx, page } = await fresh();
    await logIn(page, main.origin, 'alice');
    await page.evaluate("document.cookie = '__Host-sid=planted-by-script; Path=/account; Secure; SameSite=Lax'");
    assert.deepEqual((await ctx.cookies()).filter((c) => c.name === '__Host-sid').map((c) => c.path), ['/']);
    assert.equal(await signedInAs(page, main.origin), 'alice');
  });
});

