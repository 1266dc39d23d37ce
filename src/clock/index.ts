/**
 * Every timeout in fixation-guard reads time from a `Clock`, so tests (and the attack suite)
 * move time forward instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch, like `Date.now()`. */
  now(): number;
}

/** The real clock. */
export const systemClock: Clock = Object.freeze({ now: () => Date.now() });

/**
 * A clock that only moves when told to, for tests.
 *
 * @example
 * const clock = new ManualClock();
 * app.use(sessionGuard({ secret, clock, idleTimeout: '30m' }));
 * clock.advance('31m'); // the next request finds the session expired
 */
export class ManualClock implements Clock {
  #now: number;

  constructor(start: number = Date.UTC(2030, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** Moves the clock forward by a duration (`'31m'`, `'4h'`, or milliseconds). */
  advance(by: number | string): number {
    const ms = typeof by === 'number' ? by : parseDuration(by, 'ManualClock#advance');
    if (!(ms >= 0)) throw new RangeError(`ManualClock#advance: cannot move time backwards (${by})`);
    this.#now += ms;
    return this.#now;
  }

  set(to: number): void {
    this.#now = to;
  }
}

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;

/**
 * Parses `'30m'`, `'4h'`, `'15s'`, `'250ms'`, `'1d'` or a number of milliseconds.
 * Throws a message that names `what` on anything else.
 */
export function parseDuration(value: unknown, what: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value > 0) return value;
    throw new RangeError(`${what} must be a positive number of milliseconds; got ${String(value)}`);
  }
  if (typeof value === 'string') {
    const match = DURATION_RE.exec(value.trim());
    if (match) {
      const ms = Number(match[1]) * (UNIT_MS[match[2] as string] as number);
      if (ms > 0) return ms;
    }
    throw new Error(
      `${what} must be a duration like '30m', '4h', '15s' or a number of milliseconds; got ${JSON.stringify(value)}`,
    );
  }
  throw new TypeError(
    `${what} must be a duration like '30m' or a number of milliseconds; got ${typeof value}`,
  );
}

/**
 * A duration option: `fallback` when absent, else `parseDuration` with a message that starts
 * with `who` and names the option (what every guard's option validation uses).
 *
 * @example
 * const idleTimeoutMs = durationOption(options.idleTimeout, 'sessionGuard', 'idleTimeout', DEFAULT_IDLE_TIMEOUT_MS);
 */
export function durationOption(value: unknown, who: string, option: string, fallback: number): number {
  return value === undefined ? fallback : parseDuration(value, `${who}: \`${option}\``);
}

/** A duration in the shortest exact form: `3600000` → `'1h'`, `1500` → `'1500ms'`. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit] as number;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** An option renamed when every duration became one form (a `'30m'` string or milliseconds). */
export interface RenamedDuration {
  /** The option's name now. */
  to: string;
  /** The old option's unit, to translate its value in the hint. */
  unit: 'seconds' | 'ms';
}

/**
 * Refuses options renamed when every duration became one form (`'30m'` or milliseconds): an
 * old name is never read (a number of seconds read as milliseconds would be silently wrong),
 * and the error says what to write instead.
 *
 * @example
 * refuseRenamedDurations(options, 'createRedisSessionStores', { ttl: { to: 'sessionTtl', unit: 'seconds' } });
 * // createRedisSessionStores: `ttl` (seconds) is now `sessionTtl`, a duration like '30m' or a number of milliseconds: write `sessionTtl: '1d'`.
 */
export function refuseRenamedDurations(options: object, where: string, renamed: Readonly<Record<string, RenamedDuration>>): void {
  for (const [old, { to, unit }] of Object.entries(renamed)) {
    if (!Object.prototype.hasOwnProperty.call(options, old)) continue;
    const value = (options as Record<string, unknown>)[old];
    const ms = typeof value === 'number' && Number.isFinite(value) && value > 0 ? (unit === 'seconds' ? value * 1000 : value) : undefined;
    const write = ms === undefined ? '' : `: write \`${to}: '${formatDuration(ms)}'\``;
    throw new Error(`${where}: \`${old}\`${unit === 'seconds' ? ' (seconds)' : ''} is now \`${to}\`, a duration like '30m' or a number of milliseconds${write}.`);
  }
}
