/**
 * The model of the session lifecycle: which device should be authenticated as whom, the
 * timestamps that decide its timeouts and rotation, and every id the system told a client was
 * ended. A command describes the acceptable outcomes ("worlds") of what it sends; after the
 * requests answer, the observation (statuses, the devices' cookie jars and the raw records
 * under those ids) must match one of them, and then the store-wide invariants are checked.
 *
 * Where the system may legitimately choose (a raced elevate losing, which session an eviction
 * picks among equally old ones, the state after an injected store failure), a world lists
 * several options and the observation decides; where it may not, there is one.
 */
import assert from 'node:assert/strict';
import type { Reply } from './client.js';
import {
  ABSOLUTE_TIMEOUT_MS,
  DEVICE_COUNT,
  IDLE_TIMEOUT_MS,
  MAX_SESSIONS,
  PRINCIPALS,
  ROTATE_EVERY_MS,
  isLive,
  liveOwner,
  type Principal,
  type RealSystem,
  type StoredRecord,
} from './system.js';

/** A rotated id may keep answering this long (a grace for a page's parallel requests); after it, it is ended like any other. */
export const ROTATION_GRACE_MS = ROTATE_EVERY_MS;

/** One authentication of one device, continued across periodic rotations and elevations. */
export interface Lineage {
  principal: Principal;
  /** When this device logged in as `principal` first (re-logins of the same principal keep it). */
  firstLoginAt: number;
  lastLoginAt: number;
  /** undefined: unknown (after an injected failure the write may or may not have landed). */
  authAt: number | undefined;
  lastSeenAt: number | undefined;
  rotatedAt: number | undefined;
  elevated: boolean | undefined;
  /** Ids this lineage was periodically rotated away from, with when: ended, but maybe in grace. */
  soft: Array<{ id: string; at: number }>;
}

/** What the lifecycle does to a device's session at the start of a request. */
export type Outcome = 'anon' | 'expired' | 'rotated' | 'plain';

export interface RequestExpectation {
  label: string;
  statuses: readonly number[];
  /** Further checks of the reply; a message when it does not fit. */
  check?: (reply: Reply) => string | undefined;
}

export interface DeviceOption {
  label: string;
  /** Whom the record under the device's cookie must be a live session of (undefined: nobody). */
  principal: Principal | undefined;
  /** The cookie afterwards: the same id, an id never seen before, none, or anything. */
  id: 'same' | 'new' | 'cleared' | 'any';
  lineage?: Lineage | undefined;
  /** The device's previous id continues as `lineage` after a periodic rotation (ended softly). */
  periodic?: boolean;
  /** Ended by the session limit: counted and checked against "evict the oldest". */
  evicted?: boolean;
}

export interface World {
  label: string;
  requests: RequestExpectation[];
  /** Options per device; a device not listed must be unchanged. */
  devices: Map<number, DeviceOption[]>;
  /** Logins per principal in this command: that many of its other sessions may be evicted. */
  logins: Map<Principal, number>;
  /** Principals whose sessions this command ended wholesale (their rotated ids end too). */
  revoked: Set<Principal>;
}

export function world(label: string, requests: RequestExpectation[]): World {
  return { label, requests, devices: new Map(), logins: new Map(), revoked: new Set() };
}

type Tri = 'yes' | 'no' | 'maybe';

function over(now: number, since: number | undefined, limit: number): Tri {
  if (since === undefined) return 'maybe';
  return now - since > limit ? 'yes' : 'no';
}

interface EndedId {
  principal: Principal | undefined;
  at: number;
  soft: boolean;
  how: string;
}

export class Model {
  now = 0;
  readonly devices: Array<Lineage | undefined> = Array.from(
    { length: DEVICE_COUNT },
    () => undefined,
  );
  /** Every id the system told a client was ended. */
  readonly ended = new Map<string, EndedId>();
  /** Every session id any response ever set. */
  readonly seen = new Set<string>();
  /** Lines describing what happened, printed with a failure. */
  readonly log: string[] = [];

  /** What the lifecycle may do to `device`'s session now (several when timestamps are unknown). */
  outcomes(device: number): Outcome[] {
    const lineage = this.devices[device];
    if (!lineage) return ['anon'];
    const idle = over(this.now, lineage.lastSeenAt, IDLE_TIMEOUT_MS);
    const absolute = over(this.now, lineage.authAt, ABSOLUTE_TIMEOUT_MS);
    const expire: Tri =
      idle === 'yes' || absolute === 'yes'
        ? 'yes'
        : idle === 'maybe' || absolute === 'maybe'
          ? 'maybe'
          : 'no';
    const out: Outcome[] = [];
    if (expire !== 'no') out.push('expired');
    if (expire !== 'yes') {
      const rotate = over(this.now, lineage.rotatedAt, ROTATE_EVERY_MS);
      if (rotate !== 'no') out.push('rotated');
      if (rotate !== 'yes') out.push('plain');
    }
    return out;
  }

  /** The device's lineage once the lifecycle did `outcome` (undefined: anonymous). */
  after(device: number, outcome: Outcome): Lineage | undefined {
    const lineage = this.devices[device];
    if (!lineage || outcome === 'anon' || outcome === 'expired') return undefined;
    return {
      ...lineage,
      soft: [...lineage.soft],
      lastSeenAt: this.now,
      rotatedAt: outcome === 'rotated' ? this.now : lineage.rotatedAt,
    };
  }

  devicesOf(principal: Principal): number[] {
    return this.devices.flatMap((lineage, i) => (lineage?.principal === principal ? [i] : []));
  }

  /** A new authentication of `principal` on a device whose lifecycle left `previous`. */
  login(principal: Principal, previous: Lineage | undefined): Lineage {
    const now = this.now;
    return {
      principal,
      firstLoginAt: previous?.principal === principal ? previous.firstLoginAt : now,
      lastLoginAt: now,
      authAt: now,
      lastSeenAt: now,
      rotatedAt: now,
      elevated: false,
      soft: [],
    };
  }

  /** Ids that must be dead by now: hard-ended ones, and rotated ones past their grace. */
  mustBeDead(): Array<[string, EndedId]> {
    return [...this.ended].filter(([, e]) => !e.soft || this.now - e.at >= ROTATION_GRACE_MS);
  }

  #end(id: string | undefined, principal: Principal | undefined, how: string, soft = false): void {
    if (id === undefined) return;
    const known = this.ended.get(id);
    if (known && (!known.soft || soft)) return;
    this.ended.set(id, { principal, at: this.now, soft, how });
  }

  #endLineage(lineage: Lineage | undefined, how: string): void {
    for (const { id } of lineage?.soft ?? []) this.#end(id, lineage?.principal, how);
  }

  /**
   * Matches what happened against the worlds (the first that fits wins), updates the model,
   * and checks the store-wide invariants. `before` are the devices' ids before the command.
   */
  async settle(
    real: RealSystem,
    worlds: World[],
    replies: Reply[],
    before: Array<string | undefined>,
    what: string,
  ): Promise<void> {
    const observed: Array<{
      id: string | undefined;
      owner: string | undefined;
      record: StoredRecord | undefined;
    }> = [];
    for (let d = 0; d < DEVICE_COUNT; d++) {
      const id = real.idOf(d);
      const record = id === undefined ? undefined : await real.stores.record(id);
      observed.push({ id, owner: liveOwner(record), record });
    }
    const problems: string[] = [];
    let chosen: { world: World; picks: Map<number, DeviceOption> } | undefined;
    for (const candidate of worlds) {
      const mismatch = this.#mismatch(candidate, replies, observed, before);
      if (typeof mismatch === 'string') problems.push(`  as "${candidate.label}": ${mismatch}`);
      else {
        chosen = { world: candidate, picks: mismatch };
        break;
      }
    }
    const seen = replies.map((r, i) =>
      `#${i} ${r.status}${r.setCookie ? ' +cookie' : ''}${r.cleared ? ' cleared' : ''} ${JSON.stringify(r.body)}`.slice(
        0,
        160,
      ),
    );
    if (!chosen) {
      const devices = observed.map(
        (o, d) =>
          `d${d}: ${o.id ? o.id.slice(0, 8) : '-'} → ${o.owner ?? (isLive(o.record) ? 'anonymous' : o.record ? 'tombstone' : 'none')} (model: ${this.devices[d]?.principal ?? 'anonymous'})`,
      );
      assert.fail(
        `${what}: no acceptable outcome.\nreplies:\n  ${seen.join('\n  ')}\ndevices:\n  ${devices.join('\n  ')}\nmismatches:\n${problems.join('\n')}`,
      );
    }
    this.log.push(`${what} → ${chosen.world.label}: ${replies.map((r) => r.status).join(',')}`);
    this.#apply(chosen.world, chosen.picks, observed, before);
    for (const reply of replies) if (reply.setCookie) this.seen.add(cookieId(reply.setCookie));
    await this.checkInvariants(real, what);
  }

  #mismatch(
    candidate: World,
    replies: Reply[],
    observed: Array<{ id: string | undefined; owner: string | undefined }>,
    before: Array<string | undefined>,
  ): string | Map<number, DeviceOption> {
    for (const [i, expectation] of candidate.requests.entries()) {
      const reply = replies[i] as Reply;
      if (!expectation.statuses.includes(reply.status)) {
        return `${expectation.label} answered ${reply.status} ${JSON.stringify(reply.body)}, expected ${expectation.statuses.join(' or ')}`;
      }
      const problem = expectation.check?.(reply);
      if (problem) return `${expectation.label}: ${problem}`;
    }
    const picks = new Map<number, DeviceOption>();
    for (let d = 0; d < DEVICE_COUNT; d++) {
      const options = this.optionsFor(candidate, d);
      const { id, owner } = observed[d] as { id: string | undefined; owner: string | undefined };
      const pick = options.find((option) => {
        if (option.principal !== owner) return false;
        if (option.id === 'same') return id === before[d];
        if (option.id === 'new') return id !== undefined && id !== before[d] && !this.seen.has(id);
        if (option.id === 'cleared') return id === undefined;
        return true;
      });
      if (!pick) {
        const holds = owner ? `a live session of ${owner}` : 'no live authenticated session';
        const idState =
          id === undefined
            ? 'no cookie'
            : id === before[d]
              ? 'the same id'
              : this.seen.has(id)
                ? 'an id seen before'
                : 'a new id';
        return `d${d} has ${idState} holding ${holds}; acceptable: ${options.map((o) => `${o.label} (${o.principal ?? 'nobody'}, ${o.id} id)`).join(' | ')}`;
      }
      picks.set(d, pick);
    }
    // "Evict the oldest": at most one eviction per login, and never one newer than a survivor.
    for (const principal of PRINCIPALS) {
      const evicted = [...picks]
        .filter(([, pick]) => pick.evicted)
        .map(([d]) => d)
        .filter((d) => this.#createdBy(candidate, d, principal));
      if (evicted.length === 0) continue;
      const logins = candidate.logins.get(principal) ?? 0;
      if (evicted.length > logins)
        return `${evicted.length} sessions of ${principal} were evicted by ${logins} login(s)`;
      const survivors = [...picks]
        .filter(
          ([d, pick]) =>
            pick.principal === principal &&
            pick.id === 'same' &&
            this.devices[d]?.principal === principal,
        )
        .map(([d]) => this.devices[d] as Lineage);
      for (const d of evicted) {
        const gone = this.#evictedLineage(candidate, d) as Lineage;
        const younger = survivors.find(
          (s) => gone.firstLoginAt > s.firstLoginAt && gone.lastLoginAt > s.lastLoginAt,
        );
        if (younger)
          return `d${d}'s session of ${principal} (logged in at +${(gone.lastLoginAt / 60_000).toFixed(0)}m) was evicted although an older one (+${(younger.lastLoginAt / 60_000).toFixed(0)}m) survived`;
      }
    }
    return picks;
  }

  /** The options a world gives a device: its own, or "unchanged" (or evicted, when its principal logged in elsewhere). */
  optionsFor(candidate: World, device: number): DeviceOption[] {
    const listed = candidate.devices.get(device);
    if (listed) return listed;
    const lineage = this.devices[device];
    const options: DeviceOption[] = [
      { label: 'unchanged', principal: lineage?.principal, id: 'same', lineage },
    ];
    if (lineage && (candidate.logins.get(lineage.principal) ?? 0) > 0) {
      options.push({ label: 'evicted', principal: undefined, id: 'same', evicted: true });
    }
    return options;
  }

  /** The lineage an evicted device had: its previous one, or the fresh login the option names. */
  #evictedLineage(candidate: World, device: number): Lineage | undefined {
    const options = candidate.devices.get(device);
    return options?.find((o) => o.evicted && o.lineage)?.lineage ?? this.devices[device];
  }

  #createdBy(candidate: World, device: number, principal: Principal): boolean {
    return this.#evictedLineage(candidate, device)?.principal === principal;
  }

  #apply(
    chosen: World,
    picks: Map<number, DeviceOption>,
    observed: Array<{ id: string | undefined }>,
    before: Array<string | undefined>,
  ): void {
    for (const [d, pick] of picks) {
      const previous = this.devices[d];
      const oldId = before[d];
      const newId = observed[d]?.id;
      if (pick.principal === undefined) {
        // The device's session ended: every id of it is dead, including one it was just given.
        if (previous) {
          this.#end(oldId, previous.principal, `${pick.label} (d${d})`);
          this.#endLineage(previous, pick.label);
        }
        if (pick.evicted && pick.lineage && newId !== undefined)
          this.#end(newId, pick.lineage.principal, `${pick.label} (d${d})`);
        this.devices[d] = undefined;
        continue;
      }
      const next = { ...(pick.lineage as Lineage) };
      next.soft = [...next.soft];
      if (newId !== oldId && oldId !== undefined) {
        if (pick.periodic && previous) next.soft.push({ id: oldId, at: this.now });
        else this.#end(oldId, previous?.principal ?? next.principal, `${pick.label} (d${d})`);
      }
      // Rotated ids of a lineage that did not continue (a new login) end with it.
      for (const soft of previous?.soft ?? []) {
        if (!next.soft.some((s) => s.id === soft.id))
          this.#end(soft.id, previous?.principal, pick.label);
      }
      for (const soft of next.soft) this.#end(soft.id, next.principal, 'rotated', true);
      this.devices[d] = next;
    }
    for (const principal of chosen.revoked) {
      for (const [id, ended] of this.ended)
        if (ended.principal === principal && ended.soft)
          this.ended.set(id, { ...ended, soft: false });
    }
    // Rotated ids past their grace are simply ended.
    for (const lineage of this.devices) {
      if (lineage) lineage.soft = lineage.soft.filter((s) => this.now - s.at < ROTATION_GRACE_MS);
    }
  }

  /** The store-wide invariants, read from the raw store and the index (never through a request). */
  async checkInvariants(real: RealSystem, what: string): Promise<void> {
    const records = await real.stores.records();
    const liveOf = new Map<string, string[]>();
    for (const [id, record] of records) {
      const owner = liveOwner(record);
      if (owner !== undefined) liveOf.set(owner, [...(liveOf.get(owner) ?? []), id]);
    }
    const context = (): string =>
      `after ${what}\nrecent commands:\n  ${this.log.slice(-8).join('\n  ')}`;
    // 2. Ended means ended: no live record under an id a client was told is over.
    for (const [id, ended] of this.mustBeDead()) {
      assert.ok(
        !isLive(records.get(id)),
        `ended means ended: ${id.slice(0, 8)} (${ended.how} at +${ended.at / 60_000}m) still has a live record ${JSON.stringify(records.get(id)).slice(0, 200)}; ${context()}`,
      );
    }
    for (const principal of PRINCIPALS) {
      const live = liveOf.get(principal) ?? [];
      // 6. Max sessions.
      assert.ok(
        live.length <= MAX_SESSIONS,
        `max sessions: ${principal} has ${live.length} live sessions; ${context()}`,
      );
      // 1. Indexed: every live session of the principal is in its index.
      const indexed = new Set(
        (await real.stores.index.list(principal)).map((entry) => entry.sessionId),
      );
      const unindexed = live.filter((id) => !indexed.has(id));
      assert.deepEqual(
        unindexed.map((id) => id.slice(0, 8)),
        [],
        `indexed: live sessions of ${principal} missing from its index; ${context()}`,
      );
      const listed = await real.guard.listSessions(principal);
      assert.equal(
        listed.length,
        live.length,
        `indexed: listSessions(${principal}) shows ${listed.length} sessions, the store holds ${live.length} live ones; ${context()}`,
      );
      // 3./4. Nothing alive that no device holds: no fork (one successor per lineage), nothing
      // left over by a revocation or an ended session; only rotated ids within their grace.
      const held = new Set(this.devicesOf(principal).map((d) => real.idOf(d)));
      const inGrace = new Set(
        [...this.ended]
          .filter(
            ([, e]) => e.soft && e.principal === principal && this.now - e.at < ROTATION_GRACE_MS,
          )
          .map(([id]) => id),
      );
      const orphans = live.filter((id) => !held.has(id) && !inGrace.has(id));
      assert.deepEqual(
        orphans.map(
          (id) =>
            `${id.slice(0, 8)}${this.seen.has(id) ? ' (was sent to a client)' : ' (never sent)'}`,
        ),
        [],
        `one live session per device: ${principal} has live sessions no device holds (a fork, or a session that survived its end); model: ${
          this.devicesOf(principal)
            .map((d) => `d${d}`)
            .join(',') || 'none'
        }; ${context()}`,
      );
    }
  }
}

export function cookieId(cookiePair: string): string {
  const value = decodeURIComponent(cookiePair.slice(cookiePair.indexOf('=') + 1));
  return value.slice(2, value.lastIndexOf('.'));
}
