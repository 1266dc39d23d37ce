import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';

/** A lock older than this whose holder cannot be asked (another host) is taken as abandoned. */
export const DEFAULT_FILE_LOCK_STALE_MS = 10_000;
/** How long to wait for a live holder before giving up with an error. */
export const DEFAULT_FILE_LOCK_TIMEOUT_MS = 30_000;

export interface FileLockOptions {
  /** The default value is `DEFAULT_FILE_LOCK_STALE_MS` (10 s). */
  staleMs?: number;
  /** The default value is `DEFAULT_FILE_LOCK_TIMEOUT_MS` (30 s). */
  timeoutMs?: number;
}

interface LockOwner {
  pid: number;
  host: string;
  token: string;
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(text) as Partial<LockOwner>;
    if (typeof owner.pid === 'number' && typeof owner.host === 'string' && typeof owner.token === 'string') return owner as LockOwner;
  } catch {
    // A lock file cut short by a crash between create and write: judged by its age alone.
  }
  return undefined;
}

function processIsGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    // EPERM: it exists under another user. Only ESRCH says it is gone.
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `critical` while holding an exclusive lock file beside `path` (`<path>.lock`, created with
 * `O_EXCL`), so read-modify-write cycles of several processes on one file take turns instead of
 * overwriting each other's entries.
 *
 * A lock left by a crashed holder is recovered: at once when its holder was a process of this
 * host that no longer exists, otherwise once it is older than `staleMs` (a live holder refreshes
 * it while it works). Breaking a stale lock renames it away first and checks that the renamed
 * file is the one judged stale, so two processes recovering at the same moment cannot both win.
 *
 * @example
 * await withFileLock('/var/lib/app/credentials.enc', async () => { … read, change, write … });
 */
export async function withFileLock<T>(path: string, critical: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const lockPath = `${path}.lock`;
  const staleMs = options.staleMs ?? DEFAULT_FILE_LOCK_STALE_MS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_FILE_LOCK_TIMEOUT_MS;
  const owner: LockOwner = { pid: process.pid, host: hostname(), token: randomBytes(12).toString('base64url') };
  const deadline = Date.now() + timeoutMs;
  await mkdir(dirname(lockPath), { recursive: true, mode: 0o700 });
  let wait = 2;
  for (;;) {
    if (await tryCreate(lockPath, owner)) break;
    await breakIfStale(lockPath, staleMs);
    if (Date.now() > deadline) {
      throw new Error(`withFileLock: ${lockPath} has been held by another process for over ${timeoutMs} ms; if no process uses the file, remove the lock file`);
    }
    await pause(wait + Math.random() * wait);
    wait = Math.min(wait * 2, 50);
  }
  // A long critical section keeps its lock fresh, so nobody takes it for abandoned.
  const refresh = setInterval(function refreshLock() {
    const now = new Date();
    utimes(lockPath, now, now).catch(() => undefined);
  }, Math.max(Math.floor(staleMs / 3), 100));
  refresh.unref();
  try {
    return await critical();
  } finally {
    clearInterval(refresh);
    await release(lockPath, owner);
  }
}

async function tryCreate(lockPath: string, owner: LockOwner): Promise<boolean> {
  let handle;
  try {
    handle = await open(lockPath, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await handle.writeFile(JSON.stringify(owner));
  } finally {
    await handle.close();
  }
  return true;
}

async function breakIfStale(lockPath: string, staleMs: number): Promise<void> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, { mtimeMs }] = await Promise.all([readFile(lockPath, 'utf8'), stat(lockPath)]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // released meanwhile
    throw err;
  }
  const holder = parseOwner(text);
  const abandoned = holder !== undefined && holder.host === hostname() && holder.pid !== process.pid && processIsGone(holder.pid);
  if (!abandoned && Date.now() - mtimeMs < staleMs) return;
  const aside = `${lockPath}.${randomBytes(6).toString('hex')}.stale`;
  try {
    await rename(lockPath, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else broke or released it
    throw err;
  }
  const moved = await readFile(aside, 'utf8').catch(() => '');
  if (moved !== text) {
    // Between the judgement and the rename, the stale lock was replaced by a live one: put it back.
    await link(aside, lockPath).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
}

async function release(lockPath: string, owner: LockOwner): Promise<void> {
  // Only our own lock: if ours was broken as stale, the file now belongs to someone else.
  const text = await readFile(lockPath, 'utf8').catch(() => '');
  if (parseOwner(text)?.token === owner.token) await unlink(lockPath).catch(() => undefined);
}
