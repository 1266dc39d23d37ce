#!/usr/bin/env node
/**
 * `fixation-guard attack <url> …`: runs the fixation attack suite against a running server.
 * Exit 0 when no attack succeeded, 1 when any did, 2 on bad usage or an unreachable target.
 */
import { parseArgs } from 'node:util';
import { FixationAttackSetupError } from './context.js';
import { formatReport, formatStandard } from './format.js';
import { TargetUnreachableError } from './http.js';
import { fixationAttacks, runFixationAttacks } from './run.js';
import type { FixationAttackId, FixationAttackOptions } from './types.js';

const USAGE = `Usage:
  fixation-guard attack <url> --username <name> --password <password> [options]
  fixation-guard list

Attacks a running app with the session fixation and hijacking catalogue.

Options:
  --login-path <path>        POST path of the login (default /login)
  --username <name>          login user name (sent as JSON {"username","password"})
  --password <password>      login password
  --login-body <json>        the whole login body instead of --username/--password
  --protected <path>         a path that needs a login (default /me)
  --start-path <path>        a public path that writes to the session (default /)
  --logout-path <path>       POST path of the logout (default /logout)
  --logout-all-path <path>   POST path that ends every session of the user
  --elevate-path <path>      POST path of a privilege change (step-up)
  --cookie-name <name>       the session cookie (default: detected)
  --clock-path <path>        the server's test clock (POST {"advanceMs"}) for the timeout attacks
  --idle-timeout <duration>  the app's idle timeout (default 30m)
  --absolute-timeout <dur>   the app's absolute timeout (default 4h)
  --https                    check Secure and __Host- (default: when the URL is https)
  --only <id,id,…>           run only these attacks
  --skip <id,id,…>           leave these attacks out
  --samples <n>              fresh ids sampled by id-entropy (default 64)
  --timeout <ms>             per-request timeout (default 10000)
  --json                     print the report as JSON
  --no-color                 no ANSI colours (also NO_COLOR=1)
  -h, --help                 this help

Exit status: 0 when no attack succeeded, 1 when any did, 2 on bad usage or an unreachable target.`;

class UsageError extends Error {}

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'login-path': { type: 'string' },
        username: { type: 'string' },
        password: { type: 'string' },
        'login-body': { type: 'string' },
        protected: { type: 'string' },
        'start-path': { type: 'string' },
        'logout-path': { type: 'string' },
        'logout-all-path': { type: 'string' },
        'elevate-path': { type: 'string' },
        'cookie-name': { type: 'string' },
        'clock-path': { type: 'string' },
        'idle-timeout': { type: 'string' },
        'absolute-timeout': { type: 'string' },
        https: { type: 'boolean' },
        only: { type: 'string' },
        skip: { type: 'string' },
        samples: { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'boolean' },
        'no-color': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function number(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number; got ${JSON.stringify(value)}`);
  return n;
}

function duration(value: string | undefined): string | number | undefined {
  if (value === undefined) return undefined;
  return /^\d+$/.test(value) ? Number(value) : value;
}

function ids(value: string | undefined): FixationAttackId[] | undefined {
  return value?.split(',').map((s) => s.trim()).filter(Boolean) as FixationAttackId[] | undefined;
}

function optionsFrom(values: ReturnType<typeof parseCommandLine>['values']): FixationAttackOptions {
  let loginBody: Record<string, unknown>;
  if (values['login-body'] !== undefined) {
    try {
      loginBody = JSON.parse(values['login-body']) as Record<string, unknown>;
    } catch {
      throw new UsageError(`--login-body must be JSON; got ${values['login-body']}`);
    }
  } else {
    if (values.username === undefined || values.password === undefined) {
      throw new UsageError('give --username and --password (or --login-body) so the suite can log in');
    }
    loginBody = { username: values.username, password: values.password };
  }
  const options: FixationAttackOptions = { loginBody };
  const set = <K extends keyof FixationAttackOptions>(key: K, value: FixationAttackOptions[K] | undefined) => {
    if (value !== undefined) options[key] = value;
  };
  set('loginPath', values['login-path']);
  set('protectedPath', values.protected);
  set('startPath', values['start-path']);
  set('logoutPath', values['logout-path']);
  set('logoutAllPath', values['logout-all-path']);
  set('elevatePath', values['elevate-path']);
  set('cookieName', values['cookie-name']);
  set('clockPath', values['clock-path']);
  set('idleTimeout', duration(values['idle-timeout']));
  set('absoluteTimeout', duration(values['absolute-timeout']));
  set('https', values.https);
  set('only', ids(values.only));
  set('skip', ids(values.skip));
  set('entropySamples', number(values.samples, '--samples'));
  set('requestTimeout', number(values.timeout, '--timeout'));
  return options;
}

function list(): string {
  return fixationAttacks.map((a) => `${a.id}\n  ${a.title}\n  ${formatStandard(a)}`).join('\n');
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(argv);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const [command, url, ...extra] = positionals;
  if (command === 'list' && url === undefined) {
    console.log(list());
    return 0;
  }
  if (command !== 'attack') throw new UsageError(command === undefined ? 'missing command' : `unknown command ${JSON.stringify(command)}`);
  if (url === undefined) throw new UsageError('missing the URL to attack, e.g. fixation-guard attack http://127.0.0.1:3000 …');
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  if (!/^https?:\/\/[^/]/i.test(url)) throw new UsageError(`the URL must start with http:// or https://; got ${JSON.stringify(url)}`);
  const options = optionsFrom(values);
  const report = await runFixationAttacks(url, options);
  const color = !values['no-color'] && !process.env.NO_COLOR && process.stdout.isTTY === true;
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report, { color }));
  return report.summary.secure ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      console.error(`fixation-guard: ${err.message}\n\n${USAGE}`);
    } else if (
      err instanceof TargetUnreachableError ||
      err instanceof FixationAttackSetupError ||
      (err instanceof Error && err.message.startsWith('runFixationAttacks:'))
    ) {
      console.error(`fixation-guard: ${err.message}`);
    } else {
      console.error(`fixation-guard: ${(err as Error).stack ?? String(err)}`);
    }
    process.exitCode = 2;
  },
);
