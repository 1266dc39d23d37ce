/**
 * `npm run screenshot`: the example's "your devices" page, as the README shows it, written to
 * docs/devices.png. The example runs in this process over HTTPS (production cookie), alice
 * signs in from two browsers (different user agents), and the first one's page is captured.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { createLoginApp } from '../examples/shared/login-app.js';
import { ensureChromiumBinary, launchChromium, selfSignedCertificate, serveHttps } from './chromium.js';

const OUTPUT = resolve(import.meta.dirname, '..', 'docs', 'devices.png');
const DEVICES = [
  'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
];

const { app } = createLoginApp({ guard: { plainHttpDevelopment: false, maxSessionsPerUser: 5 } });
const server = await serveHttps(app, selfSignedCertificate());
const browser = await launchChromium(ensureChromiumBinary());
try {
  const origin = `https://localhost:${server.port}`;
  const pages = [];
  for (const userAgent of DEVICES) {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, userAgent, viewport: { width: 900, height: 420 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    await page.goto(`${origin}/account/login`);
    await page.fill('#username', 'alice');
    await page.fill('#password', 'alice-password');
    await Promise.all([page.waitForURL(`${origin}/account`), page.click('button[type=submit]')]);
    pages.push(page);
  }
  const [first] = pages;
  if (!first) throw new Error('no page');
  await first.goto(`${origin}/account/devices`);
  mkdirSync(resolve(OUTPUT, '..'), { recursive: true });
  await first.screenshot({ path: OUTPUT, fullPage: true });
  console.log(`screenshot: wrote ${OUTPUT}`);
} finally {
  await browser.close();
  await server.close();
}
