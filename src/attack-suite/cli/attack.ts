import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { toJUnit, toSarif } from '../ci.js';
import { FixationAttackSetupError } from '../context.js';
import { formatReport } from '../format.js';
import { TargetUnreachableError } from '../http.js';
import { NAME_FLAGS } from '../options.js';
import { FixationAttackRunner } from '../run.js';
import type { AttackResult, FixationAttackId, FixationAttackOptions, FixationReport } from '../types.js';
import { exitCodeOf } from '../verdict.js';
import type { CliCommand } from './commands.js';
import { packageVersion } from './dispatch.js';
import { errorDocument, EXIT, UsageError, type CliErrorDocument } from './exit.js';
import { durationFlag, failOnFlag, idList, RUN_FLAGS } from './flags.js';
import type { CliIO } from './io.js';

const USAGE = `Usage:
  fixation-guard attack <url> --login-field username=alice --login-field password=… [options]
  fixation-guard attack <url> --username alice --password … [options]

Attacks a running app with the session fixation and hijacking catalogue.

Logging in:
  --login-path <path>         POST path of the login (default /login)
  --login-encoding json|form  how the login body is sent (default json)
  --login-field <name=value>  one field of the login body; repeat for each field
  --username <name>           shorthand for --login-field username=<name>
  --password <password>       shorthand for --login-field password=<password>
  --login-body <json>         the whole login body as JSON instead of fields
  --attacker-username <name>  a second account, for the attacker's own session (with
  --attacker-password <pw>    --attacker-password; or --attacker-login-body <json>)
  --header <'Name: value'>    an extra header on every request; repeatable
  --csrf-from <kind:name>     where the CSRF token is read: input:_csrf, meta:csrf-token,
                              cookie:XSRF-TOKEN, header:X-CSRF-Token or json:csrfToken
                              (a field of the page's JSON body) (default: detected)
  --csrf-to <kind:name>       where it is sent: field:_csrf or header:X-XSRF-TOKEN
                              (default: follows --csrf-from)
  --csrf-page <path>          the page that carries the token (default: the login path)
  --no-csrf                   never look for a CSRF token

The app's routes:
  --start-path <path>         a public GET path that creates a session (default /)
  --protected <path>          a GET path that needs a login (default /me)
  --logout-path <path>        the logout (default /logout)
  --logout-method GET|POST    how the logout is sent (default POST)
  --logout-all-path <path>    POST path that ends every session of the user
  --elevate-path <path>       POST path of a privilege change (step-up)
  --elevate-body <json>       its JSON body (default {})
  --cookie-name <name>        the session cookie (default: detected)
  --clock-path <path>         the server's test clock (POST {"advanceMs"}) for the timeout attacks
  --idle-timeout <duration>   the app's idle timeout (default 30m)
  --absolute-timeout <dur>    the app's absolute timeout (default 4h)
  --https                     check Secure and __Host- (default: when the URL is https); on
                              an http:// URL also sends X-Forwarded-Proto: https

The run:
  --only <id,id,…>            run only these attacks (fixation-guard list names them)
  --skip <id,id,…>            leave these attacks out, with the requests only they need
  --samples <n>               fresh ids sampled by id-entropy (default 64)
  --timeout <duration>        per-request timeout (ms, or 10s); a route that hangs aborts only the
                              attacks that need it (default 10s)
  --fail-on <class>           fixation (default), hardening or all: which findings exit 1

Output:
  --json                      print one JSON document on stdout (the report, or the error)
  --junit <file>              also write JUnit XML (one test case per attack)
  --sarif <file>              also write SARIF 2.1.0 (one result per attack that succeeded)
  --no-color                  no ANSI colours (also NO_COLOR=1)
  -h, --help                  this help

Exit status: 0 pass; 1 a finding at or above --fail-on; 2 setup error (bad usage, unreachable
target, a route not found, a login that does not work); 3 inconclusive (a core fixation
attack could not run, e.g. GET / creates no session: pass --start-path; or an attack was
aborted by a route that hung).`;

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'login-path': { type: 'string' },
        'login-encoding': { type: 'string' },
        'login-field': { type: 'string', multiple: true },
        username: { type: 'string' },
        password: { type: 'string' },
        'login-body': { type: 'string' },
        'attacker-username': { type: 'string' },
        'attacker-password': { type: 'string' },
        'attacker-login-body': { type: 'string' },
        header: { type: 'string', multiple: true },
        'csrf-from': { type: 'string' },
        'csrf-to': { type: 'string' },
        'csrf-page': { type: 'string' },
        'no-csrf': { type: 'boolean' },
        protected: { type: 'string' },
        'start-path': { type: 'string' },
        'logout-path': { type: 'string' },
        'logout-method': { type: 'string' },
        'logout-all-path': { type: 'string' },
        'elevate-path': { type: 'string' },
        'elevate-body': { type: 'string' },
        'cookie-name': { type: 'string' },
        'clock-path': { type: 'string' },
        'idle-timeout': { type: 'string' },
        'absolute-timeout': { type: 'string' },
        https: { type: 'boolean' },
        junit: { type: 'string' },
        ...RUN_FLAGS,
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

type Values = ReturnType<typeof parseCommandLine>['values'];

function number(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number; got ${JSON.stringify(value)}`);
  return n;
}

function jsonObject(value: string, flag: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new UsageError(`${flag} must be a JSON object; got ${value}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`${flag} must be a JSON object; got ${value}`);
  return parsed as Record<string, unknown>;
}

function loginBodyFrom(values: Values): Record<string, unknown> {
  const fields = values['login-field'] ?? [];
  if (values['login-body'] !== undefined) {
    if (fields.length > 0 || values.username !== undefined || values.password !== undefined) {
      throw new UsageError('give the login either as --login-body or as --login-field/--username/--password, not both');
    }
    return jsonObject(values['login-body'], '--login-body');
  }
  const body: Record<string, string> = {};
  if (values.username !== undefined) body.username = values.username;
  if (values.password !== undefined) body.password = values.password;
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq <= 0) throw new UsageError(`--login-field must be name=value; got ${JSON.stringify(field)}`);
    body[field.slice(0, eq)] = field.slice(eq + 1);
  }
  if (Object.keys(body).length === 0) {
    throw new UsageError('give the login so the suite can log in: --login-field name=value for each field (or --username and --password, or --login-body)');
  }
  if ((values.username === undefined) !== (values.password === undefined) && fields.length === 0) {
    throw new UsageError('give --username and --password together (or --login-field for each field of the login)');
  }
  return body;
}

/** A second account's login (`attackerLoginBody`): its own body, or the login's fields with another username and password. */
function attackerLoginBodyFrom(values: Values, loginBody: Record<string, unknown>): Record<string, unknown> | undefined {
  const { 'attacker-username': username, 'attacker-password': password, 'attacker-login-body': body } = values;
  if (body !== undefined) {
    if (username !== undefined || password !== undefined) throw new UsageError('give the second account either as --attacker-login-body or as --attacker-username/--attacker-password, not both');
    return jsonObject(body, '--attacker-login-body');
  }
  if (username === undefined && password === undefined) return undefined;
  if (username === undefined || password === undefined) throw new UsageError('give --attacker-username and --attacker-password together');
  // The shorthand replaces the login's username and password: another body would keep the victim's fields.
  if (Object.keys(loginBody).sort().join(',') !== 'password,username') {
    throw new UsageError('--attacker-username/--attacker-password replace the fields username and password, and this login has others: give the second account as --attacker-login-body \'{…}\'');
  }
  return { username, password };
}

function headersFrom(list: string[] | undefined): Record<string, string> | undefined {
  if (!list) return undefined;
  const headers: Record<string, string> = {};
  for (const line of list) {
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) throw new UsageError(`--header must be 'Name: value'; got ${JSON.stringify(line)}`);
    headers[name.toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

function optionsFrom(values: Values): FixationAttackOptions {
  const loginBody = loginBodyFrom(values);
  const attackerLoginBody = attackerLoginBodyFrom(values, loginBody);
  const options: FixationAttackOptions = { loginBody, ...(attackerLoginBody ? { attackerLoginBody } : {}) };
  // Messages then name the flags (--start-path), not the library's options (startPath).
  Object.defineProperty(options, NAME_FLAGS, { value: true, enumerable: false });
  const set = <K extends keyof FixationAttackOptions>(key: K, value: FixationAttackOptions[K] | undefined) => {
    if (value !== undefined) options[key] = value;
  };
  const encoding = values['login-encoding'];
  if (encoding !== undefined && encoding !== 'json' && encoding !== 'form') throw new UsageError(`--login-encoding must be json or form; got ${JSON.stringify(encoding)}`);
  set('loginEncoding', encoding);
  const method = values['logout-method']?.toUpperCase();
  if (method !== undefined && method !== 'GET' && method !== 'POST') throw new UsageError(`--logout-method must be GET or POST; got ${JSON.stringify(values['logout-method'])}`);
  set('logoutMethod', method);
  set('loginPath', values['login-path']);
  set('protectedPath', values.protected);
  set('startPath', values['start-path']);
  set('logoutPath', values['logout-path']);
  set('logoutAllPath', values['logout-all-path']);
  set('elevatePath', values['elevate-path']);
  if (values['elevate-body'] !== undefined) set('elevateBody', jsonObject(values['elevate-body'], '--elevate-body'));
  set('cookieName', values['cookie-name']);
  set('clockPath', values['clock-path']);
  set('idleTimeout', durationFlag(values['idle-timeout']));
  set('absoluteTimeout', durationFlag(values['absolute-timeout']));
  set('https', values.https);
  set('only', idList<FixationAttackId>(values.only));
  set('skip', idList<FixationAttackId>(values.skip));
  set('entropySamples', number(values.samples, '--samples'));
  set('requestTimeout', durationFlag(values.timeout));
  set('headers', headersFrom(values.header));
  set('failOn', failOnFlag(values['fail-on']));
  if (values['no-csrf']) {
    if (values['csrf-from'] || values['csrf-to'] || values['csrf-page']) throw new UsageError('--no-csrf cannot be combined with --csrf-from, --csrf-to or --csrf-page');
    options.csrf = false;
  } else if (values['csrf-from'] !== undefined) {
    options.csrf = { from: values['csrf-from'], ...(values['csrf-to'] ? { to: values['csrf-to'] } : {}), ...(values['csrf-page'] ? { page: values['csrf-page'] } : {}) };
  } else if (values['csrf-to'] !== undefined || values['csrf-page'] !== undefined) {
    throw new UsageError('--csrf-to and --csrf-page need --csrf-from (where the token is read), e.g. --csrf-from input:_csrf');
  }
  return options;
}

/** Writes the CI files; a file that cannot be written is a setup error on stderr, never lost silently. */
function writeCiFiles(values: Values, io: CliIO, junit: () => string, sarif: () => string): boolean {
  let ok = true;
  for (const [flag, file, content] of [
    ['--junit', values.junit, junit],
    ['--sarif', values.sarif, sarif],
  ] as const) {
    if (!file) continue;
    try {
      writeFileSync(file, content());
    } catch (err) {
      io.err(`fixation-guard: ${flag} ${file}: ${(err as Error).message}`);
      ok = false;
    }
  }
  return ok;
}

function setupJUnit(doc: CliErrorDocument): string {
  const message = doc.error.message.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="fixation-guard attack suite" tests="1" failures="0" errors="1">
  <testsuite name="session fixation attacks" tests="1" failures="0" errors="1">
    <testcase classname="fixation-guard.setup" name="setup: the app can be attacked as described">
      <error message="${message}" type="${doc.error.kind}">${message}</error>
    </testcase>
  </testsuite>
</testsuites>
`;
}

function setupSarif(doc: CliErrorDocument): string {
  return JSON.stringify(
    {
      $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
      version: '2.1.0',
      runs: [
        {
          tool: { driver: { name: 'fixation-guard attack suite', version: packageVersion(), semanticVersion: packageVersion(), rules: [] } },
          invocations: [
            {
              executionSuccessful: false,
              exitCode: doc.exitCode,
              toolExecutionNotifications: [{ level: 'error', message: { text: doc.error.message } }],
            },
          ],
          results: [],
        },
      ],
    },
    null,
    2,
  );
}

/** Runs the attacks one by one, naming the running one on stderr (TTY only) once the run takes over a second. */
async function runWithProgress(url: string, options: FixationAttackOptions, io: CliIO): Promise<FixationReport> {
  const started = Date.now();
  let label = 'probing the app';
  const timer = setTimeout(() => io.progress(label), 1000);
  timer.unref();
  const show = (text: string) => {
    label = text;
    if (Date.now() - started >= 1000) io.progress(text);
  };
  try {
    const runner = await FixationAttackRunner.open(url, options);
    try {
      const results: AttackResult[] = [];
      const total = runner.attacks.length;
      for (const [i, attack] of runner.attacks.entries()) {
        show(`[${i + 1}/${total}] ${attack.id}…`);
        results.push(await runner.run(attack.id));
      }
      return runner.report(results);
    } finally {
      await runner.close();
    }
  } finally {
    clearTimeout(timer);
    io.progress('');
  }
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
    let report: FixationReport;
    try {
      report = await runWithProgress(url, options, io);
    } catch (err) {
      const kind = err instanceof TargetUnreachableError ? 'unreachable' : err instanceof FixationAttackSetupError ? 'setup' : undefined;
      const message = (err as Error).message;
      const optionError = kind === undefined && err instanceof Error && message.startsWith('fixation-guard attack:');
      if (kind === undefined && !optionError) throw err;
      const doc = errorDocument(kind ?? 'usage', optionError ? message.replace(/^fixation-guard attack: /, '') : message);
      if (values.json) io.out(JSON.stringify(doc, null, 2));
      writeCiFiles(values, io, () => setupJUnit(doc), () => setupSarif(doc));
      io.err(`fixation-guard: ${doc.error.message}`);
      return EXIT.setup;
    }
    const exitCode = exitCodeOf(report.summary.verdict);
    const color = !values['no-color'] && !io.env.NO_COLOR && io.stdoutIsTTY;
    io.out(values.json ? JSON.stringify({ ...report, exitCode }, null, 2) : formatReport(report, { color }));
    const written = writeCiFiles(
      values,
      io,
      () => toJUnit(report),
      () => JSON.stringify(toSarif(report, packageVersion()), null, 2),
    );
    return written ? exitCode : EXIT.setup;
  },
};
