/** Shared by the load tests: a fleet of example processes and 500 virtual users driving it. */
import assert from 'node:assert/strict';
import { startExample, type ExampleProcess } from '../support/example-process.js';
import { VirtualUser, type Answer } from '../support/virtual-user.js';

export const SESSION_SECRET = 'load-test-secret-that-is-long-enough-0123456789';
/** `LOAD_FULL=1`: the long versions (more rounds per virtual user, longer fault phases). */
export const FULL = process.env.LOAD_FULL === '1';
export const VIRTUAL_USERS = Number(process.env.LOAD_VUS ?? 500);

/** Two instances of examples/basic-login sharing one secret and one Redis (or cluster). */
export async function startFleet(env: Record<string, string>, instances = 2): Promise<ExampleProcess[]> {
  return await Promise.all(
    Array.from({ length: instances }, () => startExample({ SESSION_SECRET, LOAD_USERS: String(VIRTUAL_USERS), ...env })),
  );
}

export function users(count = VIRTUAL_USERS): VirtualUser[] {
  return Array.from({ length: count }, (_, i) => new VirtualUser(`user${i + 1}`, `password-${i + 1}`));
}

/** Every answer's status, counted. */
export function statusCounts(vus: readonly VirtualUser[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const vu of vus) for (const a of vu.answers) counts[a.status] = (counts[a.status] ?? 0) + 1;
  return counts;
}

/** Zero cross-talk, and no 5xx but the documented 503 (store unavailable), and no dropped connection. */
export function assertIsolated(vus: readonly VirtualUser[], label: string): void {
  const crossTalk = vus.flatMap((vu) => vu.crossTalk().map((a) => `${vu.username} got ${JSON.stringify(a.body)} from ${a.method} ${a.path}`));
  assert.deepEqual(crossTalk.slice(0, 5), [], `${label}: cross-talk (${crossTalk.length})`);
  const bad: Answer[] = vus.flatMap((vu) => vu.answers.filter((a) => a.status === 0 || (a.status >= 500 && !(a.status === 503 && a.body?.error?.code === 'SESSION_STORE_UNAVAILABLE'))));
  assert.deepEqual(bad.slice(0, 5), [], `${label}: 5xx other than 503 SESSION_STORE_UNAVAILABLE, or dropped connections (${bad.length})`);
}

/** Logs in, retrying a 503 (the documented outage answer) a few times. */
export async function loginWithRetry(vu: VirtualUser, url: string, attempts = 5): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    const answer = await vu.login(url);
    if (answer.status === 200) return true;
    if (answer.status !== 503) return false;
    await new Promise((resolve) => setTimeout(resolve, 100 * (i + 1)));
  }
  return false;
}
