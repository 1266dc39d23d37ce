/**
 * A real browser for the browser tests and the screenshot script: Debian's `chromium` package
 * driven by playwright-core (never a browser download), installed with apt-get when missing —
 * the way scripts/redis-server.ts installs `redis-server` — plus what serving the example over
 * HTTPS takes: a throw-away self-signed certificate made with openssl.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Flags for a quiet, reproducible headless run: no sandbox (containers run as root), no GPU, no
 * QUIC, and none of the background traffic (updates, sync, first-run) a profile would make.
 * Every launch gets a fresh temporary user-data-dir from playwright-core, removed on close.
 */
export const CHROMIUM_ARGS: readonly string[] = Object.freeze([
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // The example's certificate is self-signed, made at test time.
  '--ignore-certificate-errors',
]);

function findChromium(): string | undefined {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  return existsSync(DEFAULT_CHROMIUM_PATH) ? DEFAULT_CHROMIUM_PATH : undefined;
}

/** Returns the path of Debian's `chromium`, installing the package when it is missing. */
export function ensureChromiumBinary(): string {
  const existing = findChromium();
  if (existing) return existing;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
  if (!isRoot || !hasApt) {
    throw new Error(
      'chromium is not installed and cannot be installed automatically here (needs root and apt-get). ' +
        'Install it (`apt-get install chromium`) or set CHROMIUM_PATH to a Chromium binary.',
    );
  }
  process.stderr.write('chromium is missing: installing Debian package chromium…\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', 'chromium']]) {
    const result = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed with exit code ${result.status}`);
  }
  const binary = findChromium();
  if (!binary) throw new Error('chromium still missing after apt-get install chromium');
  return binary;
}

/** Starts headless chromium (the path from CHROMIUM_PATH, which the test runner sets). */
export async function launchChromium(executablePath = process.env.CHROMIUM_PATH ?? DEFAULT_CHROMIUM_PATH): Promise<Browser> {
  return await chromium.launch({ executablePath, headless: true, args: [...CHROMIUM_ARGS] });
}

export interface Certificate {
  key: string;
  cert: string;
}

/** A self-signed certificate for localhost and 127.0.0.1, valid one day, made with openssl. */
export function selfSignedCertificate(): Certificate {
  const dir = mkdtempSync(join(tmpdir(), 'fg-cert-'));
  try {
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    const result = spawnSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', keyPath, '-out', certPath],
      { encoding: 'utf8' },
    );
    if (result.status !== 0) throw new Error(`openssl could not make a certificate: ${result.stderr || result.error?.message}`);
    return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface HttpsServer {
  port: number;
  close(): Promise<void>;
}

/** Serves `app` over HTTPS on 127.0.0.1 (reachable as https://localhost:PORT and https://127.0.0.1:PORT). */
export async function serveHttps(app: RequestListener, certificate: Certificate): Promise<HttpsServer> {
  const server = https.createServer(certificate, app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
