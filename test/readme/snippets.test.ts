import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import ts from 'typescript';

/**
 * Every ```ts block of the README is type-checked against the sources, with `fixation-guard`
 * and its subpaths mapped to src/: a snippet that no longer compiles fails the build instead
 * of rotting. Free names a snippet only alludes to (`users`, `secret`, …) are declared in a
 * prelude, and only when the snippet does not declare them itself.
 */
const root = resolve(import.meta.dirname, '../..');
const scratch = join(root, '.tmp', 'readme-snippets');

const PRELUDE: Record<string, string> = {
  app: "declare const app: import('express').Express;",
  express: "import express from 'express';",
  users: 'declare const users: { verify(username: string, password: string): Promise<{ id: string } | undefined> };',
  secret: 'declare const secret: string;',
  store: "declare const store: import('express-session').Store;",
  index: "declare const index: import('fixation-guard').SessionIndex;",
  alerting: "declare const alerting: (event: import('fixation-guard').AuditEvent) => void;",
  passport: "declare const passport: { session(): import('express').RequestHandler; authenticate(name: string): import('express').RequestHandler };",
  session: "import session from 'express-session';",
  verifySecondFactor: 'declare function verifySecondFactor(req: unknown): Promise<void>;',
  client: "declare const client: any;",
  server: "declare const server: any;",
  guard: "declare const guard: any;",
  mcp: "declare const mcp: any;",
  token: 'declare const token: string;',
  sessionId: 'declare const sessionId: string;',
  principal: 'declare const principal: string;',
  test: "declare const test: any;",
  describe: "declare const describe: any;",
  it: "declare const it: any;",
  after: 'declare const after: any;',
  afterAll: 'declare const afterAll: any;',
  readInbox: 'declare function readInbox(credential: unknown): Promise<string>;',
  verifyJwt: 'declare function verifyJwt(token: string): Promise<{ sub: string; client_id: string; scope: string; exp: number }>;',
  legacyServer: "declare const legacyServer: import('fixation-guard/mcp').McpSessionGuardOptions['createServer'];",
  statelessOptions: "declare const statelessOptions: import('fixation-guard/mcp/stateless').McpStatelessGuardOptions;",
  finishOAuth: "declare function finishOAuth(req: import('express').Request): Promise<{ principal: string; email: string; tokens: { access_token: string; refresh_token: string }; sessionId: string }>;",
};

/** Stand-ins for the user's own modules that snippets import (`../src/app.js`, `vitest`). */
const STUBS: Record<string, string> = {
  'src/app.ts': "import express from 'express';\nexport const app = express();\n",
  'stubs/vitest.ts': 'export declare const describe: any;\nexport declare const it: any;\nexport declare const afterAll: any;\n',
};

function snippets(markdown: string): { line: number; code: string }[] {
  const found: { line: number; code: string }[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i] as string)) continue;
    const start = i + 1;
    const body: string[] = [];
    for (i = start; i < lines.length && !(lines[i] as string).startsWith('```'); i++) body.push(lines[i] as string);
    found.push({ line: start, code: body.join('\n') });
  }
  return found;
}

function declares(code: string, name: string): boolean {
  return new RegExp(`(?:const|let|var|function|class|import)\\s+(?:\\{[^}]*\\b${name}\\b[^}]*\\}|${name}\\b|\\*\\s+as\\s+${name}\\b)|\\bimport\\s+${name}\\b|\\b${name}\\s*(?:,|\\})[^;]*\\bfrom\\b`).test(code);
}

describe('the README', () => {
  it('is the assembly of docs/readme/*.md (edit those, then run scripts/readme.sh)', () => {
    const committed = readFileSync(join(root, 'README.md'), 'utf8');
    execFileSync('bash', [join(root, 'scripts', 'readme.sh')], { cwd: root });
    const assembled = readFileSync(join(root, 'README.md'), 'utf8');
    writeFileSync(join(root, 'README.md'), committed);
    const a = committed.split('\n');
    const b = assembled.split('\n');
    const line = a.findIndex((text, i) => text !== b[i]);
    assert.ok(
      committed === assembled,
      `README.md differs from docs/readme/*.md at line ${(line === -1 ? Math.min(a.length, b.length) : line) + 1}: edit docs/readme, then run \`bash scripts/readme.sh\`.`,
    );
  });

  after(() => {
    rmSync(scratch, { recursive: true, force: true });
    for (const path of Object.keys(STUBS)) rmSync(join(scratch, '..', path.split('/')[0] as string), { recursive: true, force: true });
  });

  it('has TypeScript snippets, and every one of them type-checks against the sources', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const blocks = snippets(readme);
    assert.ok(blocks.length >= 3, `found ${blocks.length} snippets`);
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(scratch, { recursive: true });
    for (const [path, code] of Object.entries(STUBS)) {
      mkdirSync(join(scratch, '..', path, '..'), { recursive: true });
      writeFileSync(join(scratch, '..', path), code);
    }
    const files: string[] = [];
    for (const [n, block] of blocks.entries()) {
      const prelude = Object.entries(PRELUDE)
        .filter(([name]) => new RegExp(`\\b${name}\\b`).test(block.code) && !declares(block.code, name))
        .map(([, line]) => line);
      const file = join(scratch, `snippet-${String(n).padStart(2, '0')}-line-${block.line}.ts`);
      writeFileSync(file, `${prelude.join('\n')}\n${block.code}\nexport {};\n`);
      files.push(file);
    }
    const program = ts.createProgram(files, {
      target: ts.ScriptTarget.ES2022,
      // Bundler resolution accepts both `../src/app.js` and jest-style `../src/app`.
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      esModuleInterop: true,
      types: ['node'],
      baseUrl: root,
      paths: {
        'fixation-guard': ['src/index.ts'],
        'fixation-guard/*': ['src/*/index.ts'],
        vitest: ['.tmp/stubs/vitest.ts'],
      },
      noUnusedLocals: false,
    });
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file && files.includes(d.file.fileName))
      .map((d) => `${d.file!.fileName.slice(scratch.length + 1)}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    assert.deepEqual(problems, []);
  });
});
