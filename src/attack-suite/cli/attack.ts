import { parseArgs } from 'node:util';
import { FixationAttackSetupError } from '../context.js';
import { formatReport } from '../format.js';
import { TargetUnreachableError } from '../http.js';
import { runFixationAttacks } from '../run.js';
import type { FailOn, FixationAttackId, FixationAttackOptions } from '../types.js';
import { exitCodeOf, FAIL_ON_VALUES } from '../verdict.js';
import type { CliCommand } from './commands.js';
import { errorDocument, EXIT, UsageError } from './exit.js';

const USAGE = `Usage:
  fixation-guard attack <url> --username <name> --password <password> [options]

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
  --fail-on <class>          fixation (default), hardening or all: which findings exit 1
  --json                     print the report as JSON
  --no-color                 no ANSI colours (also NO_COLOR=1)
  -h, --help                 this help

Exit status: 0 when no attack succeeded, 1 when any did, 2 on bad usage or an unreachable target.`;

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
        'fail-on': { type: 'string' },
        'no-color': { type: 'boolean' },
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
  return value
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean) as FixationAttackId[] | undefined;
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
  set('requestTimeoutMs', number(values.timeout, '--timeout'));
  const failOn = values['fail-on'];
  if (failOn !== undefined && !FAIL_ON_VALUES.includes(failOn as FailOn)) {
    throw new UsageError(`--fail-on must be one of ${FAIL_ON_VALUES.join(', ')}; got ${JSON.stringify(failOn)}`);
  }
  set('failOn', failOn as FailOn | undefined);
  return options;
}

export const command: CliCommand = {
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseCommandLine(argv);
    const [url, ...extra] = positionals;
    if (url === undefined) throw new UsageError('missing the URL to attack, e.g. fixation-guard attack http://127.0.0.1:3000 …');
    if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
    if (!/^https?:\/\/[^/]/i.test(url)) throw new UsageError(`the URL must start with http:// or https://; got ${JSON.stringify(url)}`);
    const options = optionsFrom(values);
    let report;
    try {
      report = await runFixationAttacks(url, options);
    } catch (err) {
      const kind = err instanceof TargetUnreachableError ? 'unreachable' : err instanceof FixationAttackSetupError ? 'setup' : undefined;
      const known = kind !== undefined || (err instanceof Error && err.message.startsWith('runFixationAttacks:'));
      if (!known) throw err;
      if (values.json) io.out(JSON.stringify(errorDocument(kind ?? 'usage', (err as Error).message), null, 2));
      io.err(`fixation-guard: ${(err as Error).message}`);
      return EXIT.setup;
    }
    const color = !values['no-color'] && !io.env.NO_COLOR && io.stdoutIsTTY;
    io.out(values.json ? JSON.stringify(report, null, 2) : formatReport(report, { color }));
    return exitCodeOf(report.summary.verdict);
  },
};
