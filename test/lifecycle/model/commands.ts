/**
 * The commands of the lifecycle model: what a browser, an admin, the clock and the store can
 * do. Sequential commands send one request and predict its outcome exactly (several "worlds"
 * only where the model's timestamps are unknown); concurrent ones send two or three requests
 * whose store calls the scheduler interleaves, and list what each may legitimately answer.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { signedCookie } from '../../helpers.js';
import type { Reply } from './client.js';
import { runInterleaved } from './interleave.js';
import {
  type DeviceOption,
  type Lineage,
  type Model,
  type Outcome,
  type RequestExpectation,
  type World,
  world,
} from './model.js';
import { DEVICE_COUNT, ROTATE_EVERY_MS, type Principal, type RealSystem } from './system.js';

type Command = fc.AsyncCommand<Model, RealSystem>;

const PAST_ROTATION_MS = ROTATE_EVERY_MS + 60_000;

/** The worlds of one request kind for a device whose lifecycle did `outcome`. */
type Spec = (model: Model, device: number, outcome: Outcome) => World[];

function me(
  model: Model,
  device: number,
  outcome: Outcome,
  label = 'GET /me',
): { request: RequestExpectation; option: DeviceOption } {
  const after = model.after(device, outcome);
  if (!after)
    return {
      request: { label, statuses: [401] },
      option: { label: outcome, principal: undefined, id: 'any' },
    };
  return {
    request: {
      label,
      statuses: [200],
      check: (reply) => {
        if (reply.body?.user !== after.principal)
          return `user ${JSON.stringify(reply.body?.user)}, expected ${after.principal}`;
        if (after.elevated !== undefined && (reply.body?.privilege === 'admin') !== after.elevated)
          return `privilege ${JSON.stringify(reply.body?.privilege)}, expected ${after.elevated ? 'admin' : 'none'}`;
        return undefined;
      },
    },
    option: {
      label: outcome,
      principal: after.principal,
      id: outcome === 'rotated' ? 'new' : 'same',
      lineage: after,
      periodic: outcome === 'rotated',
    },
  };
}

const visitSpec: Spec = (model, d, outcome) => {
  const after = model.after(d, outcome);
  const w = world(`visit (${outcome})`, [{ label: 'GET /', statuses: [200] }]);
  w.devices.set(d, [
    after
      ? {
          label: outcome,
          principal: after.principal,
          id: outcome === 'rotated' ? 'new' : 'same',
          lineage: after,
          periodic: outcome === 'rotated',
        }
      : { label: outcome, principal: undefined, id: 'any' },
  ]);
  return [w];
};

const meSpec: Spec = (model, d, outcome) => {
  const { request, option } = me(model, d, outcome);
  const w = world(`me (${outcome})`, [request]);
  w.devices.set(d, [option]);
  return [w];
};

function loginSpec(principal: Principal): Spec {
  return (model, d, outcome) => {
    const lineage = model.login(principal, model.after(d, outcome));
    const w = world(`login ${principal} (${outcome})`, [
      {
        label: `POST /login ${principal}`,
        statuses: [200],
        check: (r) => (r.body?.user === principal ? undefined : `body ${JSON.stringify(r.body)}`),
      },
    ]);
    w.devices.set(d, [{ label: 'logged in', principal, id: 'new', lineage }]);
    w.logins.set(principal, 1);
    return [w];
  };
}

const elevateSpec: Spec = (model, d, outcome) => {
  const after = model.after(d, outcome);
  if (!after) {
    const w = world(`elevate (${outcome})`, [{ label: 'POST /elevate', statuses: [401] }]);
    w.devices.set(d, [{ label: outcome, principal: undefined, id: 'any' }]);
    return [w];
  }
  const w = world(`elevate (${outcome})`, [{ label: 'POST /elevate', statuses: [200] }]);
  w.devices.set(d, [
    {
      label: 'elevated',
      principal: after.principal,
      id: 'new',
      lineage: { ...after, rotatedAt: model.now, elevated: true },
    },
  ]);
  return [w];
};

const logoutSpec: Spec = (_model, d, outcome) => {
  const w = world(`logout (${outcome})`, [{ label: 'POST /logout', statuses: [204] }]);
  w.devices.set(d, [{ label: 'logged out', principal: undefined, id: 'cleared' }]);
  return [w];
};

const logoutAllSpec: Spec = (model, d, outcome) => {
  const after = model.after(d, outcome);
  if (!after) {
    const w = world(`logout-all (${outcome})`, [{ label: 'POST /logout-all', statuses: [401] }]);
    w.devices.set(d, [{ label: outcome, principal: undefined, id: 'any' }]);
    return [w];
  }
  const ended = model.devicesOf(after.principal);
  const w = world(`logout-all ${after.principal} (${outcome})`, [
    {
      label: 'POST /logout-all',
      statuses: [200],
      check: (r) =>
        typeof r.body?.ended === 'number' && r.body.ended >= 1
          ? undefined
          : `body ${JSON.stringify(r.body)}`,
    },
  ]);
  for (const x of ended)
    w.devices.set(x, [
      { label: 'logged out everywhere', principal: undefined, id: x === d ? 'cleared' : 'same' },
    ]);
  w.revoked.add(after.principal);
  return [w];
};

/**
 * With an injected store failure, a 503 is acceptable, and then the requester (and any
 * device the command touches) may be left as before, as if the command had succeeded, or
 * ended (fail closed) — the store-wide invariants still hold in every case.
 */
function failureWorld(model: Model, worlds: World[], requester: number[]): World {
  const first = worlds[0] as World;
  const failed = world(
    'failed with the injected store error',
    first.requests.map((r, i) => ({
      label: r.label,
      statuses: [...new Set([...worlds.flatMap((w) => w.requests[i]?.statuses ?? []), 503])],
    })),
  );
  const touched = new Set([...requester, ...worlds.flatMap((w) => [...w.devices.keys()])]);
  for (const d of touched) {
    const lineage = model.devices[d];
    failed.devices.set(d, [
      { label: 'unchanged', principal: lineage?.principal, id: 'same', lineage },
      ...worlds.flatMap((w) => model.optionsFor(w, d)),
      { label: 'ended', principal: undefined, id: 'any' },
    ]);
  }
  for (const w of worlds)
    for (const [p, n] of w.logins) failed.logins.set(p, Math.max(failed.logins.get(p) ?? 0, n));
  return failed;
}

function devicesBefore(real: RealSystem): Array<string | undefined> {
  return Array.from({ length: DEVICE_COUNT }, (_, d) => real.idOf(d));
}

/** A request of one device, alone; `failure` arms a store or index write to fail first. */
export class Sequential implements Command {
  constructor(
    readonly name: string,
    readonly device: number,
    readonly method: string,
    readonly path: string,
    readonly body: unknown,
    readonly spec: Spec,
    readonly failure?: { target: 'store' | 'index'; skip: number; lost?: boolean },
  ) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, real: RealSystem): Promise<void> {
    const d = this.device;
    const worlds = model.outcomes(d).flatMap((outcome) => this.spec(model, d, outcome));
    const before = devicesBefore(real);
    if (this.failure) real.interleaver.failNextWrite(this.failure.target, this.failure.skip, this.failure.lost ?? false);
    const reply = await real.send(d, this.method, this.path, this.body);
    const injected = real.interleaver.disarm();
    if (injected > 0) {
      // The lifecycle (a renewal, an expiry) may have run before the route's write failed.
      const lifecycle = model.outcomes(d).flatMap((outcome) => visitSpec(model, d, outcome));
      worlds.push(failureWorld(model, [...worlds, ...lifecycle], [d]));
    }
    await model.settle(real, worlds, [reply], before, this.toString());
    if (this.path === '/' && reply.status === 200) {
      // A 200 for a write is a write that was saved before the answer.
      const id = real.idOf(d);
      const record = id === undefined ? undefined : await real.stores.record(id);
      if (record?.visits !== reply.body?.visits) {
        throw new Error(
          `${this}: answered visits=${reply.body?.visits} but the store holds ${JSON.stringify(record?.visits)} under the device's cookie`,
        );
      }
    }
  }

  toString(): string {
    const failure = this.failure
      ? `, with the ${this.failure.skip + 1}. ${this.failure.target} write ${this.failure.lost ? 'applied and its reply lost' : 'failing'}`
      : '';
    return `${this.name}(d${this.device}${failure})`;
  }
}

/** The admin revokes every session of a principal. */
export class Revoke implements Command {
  constructor(
    readonly principal: Principal,
    readonly failure?: { target: 'store' | 'index'; skip: number; lost?: boolean },
  ) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, real: RealSystem): Promise<void> {
    const w = world(`revoke ${this.principal}`, [{ label: 'revokeSessions', statuses: [200] }]);
    for (const x of model.devicesOf(this.principal))
      w.devices.set(x, [{ label: 'revoked', principal: undefined, id: 'same' }]);
    w.revoked.add(this.principal);
    const worlds = [w];
    const before = devicesBefore(real);
    if (this.failure) real.interleaver.failNextWrite(this.failure.target, this.failure.skip, this.failure.lost ?? false);
    const reply = await adminRevoke(real, this.principal);
    const injected = real.interleaver.disarm();
    if (injected > 0) worlds.push(failureWorld(model, worlds, []));
    await model.settle(real, worlds, [reply], before, this.toString());
  }

  toString(): string {
    const failure = this.failure
      ? `, with the ${this.failure.skip + 1}. ${this.failure.target} write ${this.failure.lost ? 'applied and its reply lost' : 'failing'}`
      : '';
    return `revokeSessions(${this.principal}${failure})`;
  }
}

/** `guard.revokeSessions` as a reply: 200 with the count, or 503 when it rejects. */
async function adminRevoke(real: RealSystem, principal: Principal): Promise<Reply> {
  try {
    return {
      status: 200,
      body: await real.guard.revokeSessions(principal),
      setCookie: undefined,
      cleared: false,
    };
  } catch (err) {
    return { status: 503, body: String(err), setCookie: undefined, cleared: false };
  }
}

export class Advance implements Command {
  constructor(readonly ms: number) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, real: RealSystem): Promise<void> {
    model.now += this.ms;
    real.clock.advance(this.ms);
    await model.settle(real, [world('time passes', [])], [], devicesBefore(real), this.toString());
  }

  toString(): string {
    return `advance(${this.ms / 60_000}m)`;
  }
}

/** An attacker replays an id the system said was ended: it must not serve. */
export class Replay implements Command {
  constructor(readonly pick: number) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, real: RealSystem): Promise<void> {
    const dead = model.mustBeDead();
    if (dead.length === 0) return;
    const [id, ended] = dead[this.pick % dead.length] as [string, { how: string }];
    const reply = await real.sendAs(signedCookie(id), 'GET', '/me');
    const w = world(`replay of an id ended by ${ended.how}`, [
      { label: 'GET /me with an ended id', statuses: [401] },
    ]);
    await model.settle(
      real,
      [w],
      [reply],
      devicesBefore(real),
      `${this}: ${id.slice(0, 8)} (${ended.how})`,
    );
  }

  toString(): string {
    return `replayEnded(${this.pick})`;
  }
}

/** POST /logout by someone without a stored session: it must write nothing. */
export class AnonymousLogout implements Command {
  constructor(readonly variant: 'no cookie' | 'ended id' | 'forged id') {}

  check(): boolean {
    return true;
  }

  async run(model: Model, real: RealSystem): Promise<void> {
    let cookie: string | undefined;
    const dead = model.mustBeDead();
    if (this.variant === 'ended id' && dead.length > 0)
      cookie = signedCookie((dead[0] as [string, unknown])[0]);
    if (this.variant === 'forged id' || (this.variant === 'ended id' && !cookie))
      cookie = signedCookie(randomBytes(24).toString('base64url'));
    const keysBefore = (await real.stores.records()).size;
    const writesBefore = real.interleaver.writesOf('store') + real.interleaver.writesOf('index');
    const reply = await real.sendAs(cookie, 'POST', '/logout');
    const keysAfter = (await real.stores.records()).size;
    const writes =
      real.interleaver.writesOf('store') + real.interleaver.writesOf('index') - writesBefore;
    if (keysAfter !== keysBefore)
      throw new Error(
        `${this}: the store went from ${keysBefore} to ${keysAfter} keys (a request without a stored session must write nothing)`,
      );
    if (this.variant === 'no cookie' && writes !== 0)
      throw new Error(
        `${this}: ${writes} store/index write(s) for a request that carried no cookie`,
      );
    const w = world(`anonymous logout (${this.variant})`, [
      { label: 'POST /logout', statuses: [200, 204] },
    ]);
    await model.settle(real, [w], [reply], devicesBefore(real), this.toString());
  }

  toString(): string {
    return `anonymousLogout(${this.variant})`;
  }
}

/** Runs `requests` concurrently under the scheduler and settles the model on every combination of the devices' lifecycle outcomes. */
async function concurrent(
  model: Model,
  real: RealSystem,
  label: string,
  devices: number[],
  worldsFor: (outcomes: Outcome[]) => World[],
  requests: () => Array<Promise<Reply>>,
): Promise<void> {
  const combos = devices.reduce<Outcome[][]>(
    (acc, d, i) => {
      // The same device twice shares one session: one outcome for both.
      const first = devices.indexOf(d);
      if (first !== i) return acc.map((combo) => [...combo, combo[first] as Outcome]);
      return acc.flatMap((combo) => model.outcomes(d).map((o) => [...combo, o]));
    },
    [[]],
  );
  const worlds = combos.flatMap(worldsFor);
  const before = devicesBefore(real);
  const results = await runInterleaved(real.interleaver, real.scheduler as fc.Scheduler, requests);
  const replies = results.map((r) => {
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  });
  await model.settle(real, worlds, replies, before, label);
}

/** A page's parallel requests right after the rotation period passed: one successor, no broken page. */
export class PageBurst implements Command {
  constructor(
    readonly device: number,
    readonly count: number,
  ) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, real: RealSystem): Promise<void> {
    model.now += PAST_ROTATION_MS;
    real.clock.advance(PAST_ROTATION_MS);
    const d = this.device;
    await concurrent(
      model,
      real,
      this.toString(),
      [d],
      ([outcome]) => {
        const parts = Array.from({ length: this.count }, (_, i) =>
          me(model, d, outcome as Outcome, `GET /me #${i}`),
        );
        const w = world(
          `page burst (${outcome})`,
          parts.map((p) => p.request),
        );
        w.devices.set(d, [(parts[0] as { option: DeviceOption }).option]);
        return [w];
      },
      () => Array.from({ length: this.count }, () => real.send(d, 'GET', '/me')),
    );
  }

  toString(): string {
    return `pageBurst(d${this.device}, ${this.count} × GET /me after ${PAST_ROTATION_MS / 60_000}m)`;
  }
}

/** Logout-everywhere on one device while another (or the same) device elevates. */
export class LogoutAllRace implements Command {
  constructor(
    readonly a: number,
    readonly b: number,
  ) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, real: RealSystem): Promise<void> {
    const { a, b } = this;
    await concurrent(
      model,
      real,
      this.toString(),
      [a, b],
      ([oa, ob]) => {
        const afterA = model.after(a, oa as Outcome);
        const afterB = model.after(b, ob as Outcome);
        const pa = afterA?.principal;
        const pb = afterB?.principal;
        const label = `logout-all (${oa}) ‖ elevate (${ob})`;
        const elevated = (): DeviceOption => ({
          label: 'elevated',
          principal: pb,
          id: 'new',
          lineage: { ...(afterB as Lineage), rotatedAt: model.now, elevated: true },
        });
        if (!pa) {
          // Nothing to log out: the elevate runs as if alone.
          const w = world(label, [
            { label: 'POST /logout-all', statuses: [401] },
            { label: 'POST /elevate', statuses: pb ? [200] : [401] },
          ]);
          w.devices.set(a, [{ label: 'anonymous', principal: undefined, id: 'any' }]);
          if (a !== b)
            w.devices.set(b, [
              pb ? elevated() : { label: 'anonymous', principal: undefined, id: 'any' },
            ]);
          else if (pb) w.devices.set(b, [elevated()]);
          return [w];
        }
        const race = pb === pa;
        const w = world(label, [
          { label: 'POST /logout-all', statuses: [200] },
          { label: 'POST /elevate', statuses: race ? [200, 401, 409] : pb ? [200] : [401] },
        ]);
        for (const x of model.devicesOf(pa))
          w.devices.set(x, [
            {
              label: 'logged out everywhere',
              principal: undefined,
              id: x === a ? 'cleared' : 'same',
            },
          ]);
        w.devices.set(a, [{ label: 'logged out everywhere', principal: undefined, id: 'any' }]);
        if (b !== a)
          w.devices.set(
            b,
            race
              ? [{ label: 'logged out everywhere', principal: undefined, id: 'any' }]
              : [pb ? elevated() : { label: 'anonymous', principal: undefined, id: 'any' }],
          );
        w.revoked.add(pa);
        if (a !== b) return [w];
        // Both on one cookie: the logout-everywhere may itself lose the race to the elevation
        // (401/409, nothing reported ended), and then every session may or may not have ended.
        const lost = world(`${label}, logout-all lost`, [
          { label: 'POST /logout-all', statuses: [401, 409] },
          { label: 'POST /elevate', statuses: [200, 401, 409] },
        ]);
        for (const x of model.devicesOf(pa)) {
          lost.devices.set(x, [
            ...model.optionsFor(world('', []), x),
            { label: 'ended', principal: undefined, id: 'same' },
          ]);
        }
        lost.devices.set(a, [elevated(), { label: 'ended', principal: undefined, id: 'any' }]);
        return [w, lost];
      },
      () => [real.send(a, 'POST', '/logout-all'), real.send(b, 'POST', '/elevate')],
    );
  }

  toString(): string {
    return `logoutAllRace(logout-all on d${this.a} ‖ elevate on d${this.b})`;
  }
}

/** The admin revokes a principal while a device is mid-request (an elevation, or a periodic rotation). */
export class RevokeRace implements Command {
  constructor(
    readonly principal: Principal,
    readonly device: number,
    readonly op: 'elevate' | 'me',
    readonly rotationDue: boolean,
  ) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, real: RealSystem): Promise<void> {
    if (this.rotationDue) {
      model.now += PAST_ROTATION_MS;
      real.clock.advance(PAST_ROTATION_MS);
    }
    const { principal, device: b, op } = this;
    await concurrent(
      model,
      real,
      this.toString(),
      [b],
      ([ob]) => {
        const outcome = ob as Outcome;
        const afterB = model.after(b, outcome);
        const pb = afterB?.principal;
        const race = pb === principal;
        let request: RequestExpectation;
        let option: DeviceOption;
        if (op === 'elevate') {
          request = {
            label: 'POST /elevate',
            statuses: race ? [200, 401, 409] : pb ? [200] : [401],
          };
          option =
            pb && !race
              ? {
                  label: 'elevated',
                  principal: pb,
                  id: 'new',
                  lineage: { ...(afterB as Lineage), rotatedAt: model.now, elevated: true },
                }
              : { label: 'anonymous', principal: undefined, id: 'any' };
        } else {
          const alone = me(model, b, outcome);
          request = race ? { label: 'GET /me', statuses: [200, 401, 409] } : alone.request;
          option = race ? { label: 'revoked', principal: undefined, id: 'any' } : alone.option;
        }
        const w = world(`revoke ${principal} ‖ ${op} (${outcome})`, [
          { label: 'revokeSessions', statuses: [200] },
          request,
        ]);
        for (const x of model.devicesOf(principal))
          w.devices.set(x, [{ label: 'revoked', principal: undefined, id: 'same' }]);
        w.devices.set(b, [option]);
        w.revoked.add(principal);
        return [w];
      },
      () => [
        adminRevoke(real, principal),
        op === 'elevate' ? real.send(b, 'POST', '/elevate') : real.send(b, 'GET', '/me'),
      ],
    );
  }

  toString(): string {
    return `revokeRace(revokeSessions(${this.principal}) ‖ ${this.op} on d${this.device}${this.rotationDue ? ', rotation due' : ''})`;
  }
}

/** Two devices log in at once (the session limit is enforced across both). */
export class LoginRace implements Command {
  constructor(
    readonly a: number,
    readonly b: number,
    readonly pa: Principal,
    readonly pb: Principal,
  ) {}

  check(): boolean {
    return this.a !== this.b;
  }

  async run(model: Model, real: RealSystem): Promise<void> {
    const { a, b, pa, pb } = this;
    await concurrent(
      model,
      real,
      this.toString(),
      [a, b],
      ([oa, ob]) => {
        const w = world(`login ${pa} (${oa}) ‖ login ${pb} (${ob})`, []);
        for (const [d, p, outcome] of [
          [a, pa, oa],
          [b, pb, ob],
        ] as Array<[number, Principal, Outcome]>) {
          const after = model.after(d, outcome);
          const lineage = model.login(p, after);
          // A login whose own previous session the other login (or its own admission) evicts
          // mid-flight may be refused; it must never answer 5xx.
          const exposed = after !== undefined && (after.principal === pa || after.principal === pb);
          w.requests.push({
            label: `POST /login ${p} on d${d}`,
            statuses: exposed ? [200, 401, 409] : [200],
          });
          const options: DeviceOption[] = [
            { label: 'logged in', principal: p, id: 'new', lineage },
            {
              label: 'logged in, then evicted by the other login',
              principal: undefined,
              id: 'new',
              evicted: true,
              lineage,
            },
          ];
          if (exposed)
            options.push(
              {
                label: 'refused, previous session kept',
                principal: after.principal,
                id: 'same',
                lineage: after,
              },
              {
                label: 'refused, previous session evicted',
                principal: undefined,
                id: 'any',
                evicted: true,
              },
            );
          w.devices.set(d, options);
          w.logins.set(p, (w.logins.get(p) ?? 0) + 1);
        }
        return [w];
      },
      () => [
        real.send(a, 'POST', '/login', { username: pa }),
        real.send(b, 'POST', '/login', { username: pb }),
      ],
    );
  }

  toString(): string {
    return `loginRace(d${this.a} as ${this.pa} ‖ d${this.b} as ${this.pb})`;
  }
}

/** A device logs out while another of its requests is in flight: the late save must not revive it. */
export class LogoutRace implements Command {
  constructor(readonly device: number) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, real: RealSystem): Promise<void> {
    const d = this.device;
    await concurrent(
      model,
      real,
      this.toString(),
      [d],
      ([outcome]) => {
        const w = world(`logout ‖ visit (${outcome})`, [
          { label: 'POST /logout', statuses: [204] },
          // The visit's write may land before the logout (200) or be refused after it (409).
          { label: 'GET /', statuses: [200, 409] },
        ]);
        w.devices.set(d, [{ label: 'logged out', principal: undefined, id: 'any' }]);
        return [w];
      },
      () => [real.send(d, 'POST', '/logout'), real.send(d, 'GET', '/')],
    );
  }

  toString(): string {
    return `logoutRace(logout ‖ GET / on d${this.device})`;
  }
}

const device = fc.nat({ max: DEVICE_COUNT - 1 });
// Mostly alice, so that her devices reach the session limit and race each other.
const principal = fc.constantFrom<Principal>('alice', 'alice', 'bob');
const failure = fc.record({
  target: fc.constantFrom<'store' | 'index'>('store', 'index'),
  skip: fc.nat({ max: 2 }),
  // A write applied whose reply is lost (its outcome unknown to the guard), or one refused.
  lost: fc.boolean(),
});

export function visit(d: number, f?: Sequential['failure']): Command {
  return new Sequential('visit', d, 'GET', '/', undefined, visitSpec, f);
}
export function getMe(d: number, f?: Sequential['failure']): Command {
  return new Sequential('me', d, 'GET', '/me', undefined, meSpec, f);
}
export function login(d: number, p: Principal, f?: Sequential['failure']): Command {
  return new Sequential(`login[${p}]`, d, 'POST', '/login', { username: p }, loginSpec(p), f);
}
export function elevate(d: number, f?: Sequential['failure']): Command {
  return new Sequential('elevate', d, 'POST', '/elevate', undefined, elevateSpec, f);
}
export function logout(d: number, f?: Sequential['failure']): Command {
  return new Sequential('logout', d, 'POST', '/logout', undefined, logoutSpec, f);
}
export function logoutAll(d: number, f?: Sequential['failure']): Command {
  return new Sequential('logoutEverywhere', d, 'POST', '/logout-all', undefined, logoutAllSpec, f);
}

type Named = [name: string, arbitrary: fc.Arbitrary<Command>];

/** One command at a time, no store failures: the baseline every correct implementation passes. */
const SEQUENTIAL: Named[] = [
  ['visit', device.map((d) => visit(d))],
  ['me', device.map((d) => getMe(d))],
  ['me', device.map((d) => getMe(d))],
  ['login', fc.tuple(device, principal).map(([d, p]) => login(d, p))],
  ['login', fc.tuple(device, principal).map(([d, p]) => login(d, p))],
  ['login', fc.tuple(device, principal).map(([d, p]) => login(d, p))],
  ['login', fc.tuple(device, principal).map(([d, p]) => login(d, p))],
  ['elevate', device.map((d) => elevate(d))],
  ['logout', device.map((d) => logout(d))],
  ['logoutEverywhere', device.map((d) => logoutAll(d))],
  ['revokeSessions', principal.map((p) => new Revoke(p))],
  [
    'advance',
    fc
      .constantFrom(60_000, 2 * 60_000, PAST_ROTATION_MS, 20 * 60_000, 31 * 60_000)
      .map((ms) => new Advance(ms)),
  ],
  ['replayEnded', fc.nat().map((k) => new Replay(k))],
  [
    'anonymousLogout',
    fc
      .constantFrom<AnonymousLogout['variant']>('no cookie', 'ended id', 'forged id')
      .map((v) => new AnonymousLogout(v)),
  ],
];

/** Store failures and concurrent requests on top of the sequential commands. */
const CONCURRENT_AND_FAILING: Named[] = [
  [
    'storeFailure',
    fc
      .tuple(
        failure,
        device,
        principal,
        fc.constantFrom('visit', 'me', 'login', 'elevate', 'logout', 'logoutAll', 'revoke'),
      )
      .map(([f, d, p, kind]) => {
        switch (kind) {
          case 'visit':
            return visit(d, f);
          case 'me':
            return getMe(d, f);
          case 'login':
            return login(d, p, f);
          case 'elevate':
            return elevate(d, f);
          case 'logout':
            return logout(d, f);
          case 'logoutAll':
            return logoutAll(d, f);
          default:
            return new Revoke(p, f);
        }
      }),
  ],
  [
    'pageBurst',
    fc.tuple(device, fc.integer({ min: 2, max: 3 })).map(([d, n]) => new PageBurst(d, n)),
  ],
  ['logoutAllRace', fc.tuple(device, device).map(([a, b]) => new LogoutAllRace(a, b))],
  [
    'revokeRace',
    fc
      .tuple(principal, device, fc.constantFrom<'elevate' | 'me'>('elevate', 'me'), fc.boolean())
      .map(([p, d, op, due]) => new RevokeRace(p, d, op, due)),
  ],
  [
    'loginRace',
    fc
      .tuple(device, device, principal, principal)
      .map(([a, b, pa, pb]) => new LoginRace(a, b, pa, pb)),
  ],
  ['logoutRace', device.map((d) => new LogoutRace(d))],
];

/** Every command name, for `FG_MODEL_SKIP`. */
export const COMMAND_NAMES = [
  ...new Set([...SEQUENTIAL, ...CONCURRENT_AND_FAILING].map(([name]) => name)),
];

/**
 * The command arbitraries: all of them, or (`sequentialOnly`) one request at a time without
 * store failures; `skip` leaves out commands by name (to look past one known defect).
 */
export function commandArbitraries(
  options: { sequentialOnly?: boolean; skip?: readonly string[] } = {},
): Array<fc.Arbitrary<Command>> {
  const skip = new Set(options.skip ?? []);
  for (const name of skip)
    if (!COMMAND_NAMES.includes(name))
      throw new Error(
        `FG_MODEL_SKIP: unknown command ${JSON.stringify(name)}; known: ${COMMAND_NAMES.join(', ')}`,
      );
  const chosen = options.sequentialOnly ? SEQUENTIAL : [...SEQUENTIAL, ...CONCURRENT_AND_FAILING];
  return chosen.filter(([name]) => !skip.has(name)).map(([, arbitrary]) => arbitrary);
}
