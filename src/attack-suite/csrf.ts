import { isClearing, type SetCookie } from './cookies.js';
import type { ReceivedResponse } from './http.js';
import { defaultCsrfTo, type ResolvedCsrf } from './options.js';

/** Token-looking names, as csurf, csrf-csrf, lusca, Rails, Laravel, Django and Spring spell them. */
const TOKEN_NAME = /csrf|xsrf|authenticity_token|^_token$/i;

/** Reads the attributes of one HTML start tag; values are entity-decoded. */
function attributes(tag: string): Map<string, string> {
  const found = new Map<string, string>();
  const re = /([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  // Skip the tag name.
  const inner = tag.replace(/^<\s*[a-z]+/i, '').replace(/\/?>$/, '');
  for (let m = re.exec(inner); m; m = re.exec(inner)) {
    found.set((m[1] as string).toLowerCase(), decodeEntities(m[2] ?? m[3] ?? m[4] ?? ''));
  }
  return found;
}

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|quot|apos|lt|gt|#39);/gi, (whole, code: string) => {
    const lower = code.toLowerCase();
    if (lower.startsWith('#x')) return String.fromCodePoint(parseInt(lower.slice(2), 16));
    if (lower.startsWith('#')) return String.fromCodePoint(Number(lower.slice(1)));
    return ({ amp: '&', quot: '"', apos: "'", lt: '<', gt: '>' } as Record<string, string>)[lower] ?? whole;
  });
}

function tags(html: string, name: 'input' | 'meta'): Array<Map<string, string>> {
  return (html.match(new RegExp(`<${name}\\b[^>]*>`, 'gi')) ?? []).map(attributes);
}

function pageCookies(response: ReceivedResponse): SetCookie[] {
  return response.setCookies.filter((c) => !isClearing(c));
}

/** The token a page carries at `from`, or `undefined`. */
export function readCsrfToken(response: ReceivedResponse, from: ResolvedCsrf['from']): string | undefined {
  switch (from.kind) {
    case 'input':
      return tags(response.body, 'input').find((a) => a.get('name') === from.name)?.get('value');
    case 'meta':
      return tags(response.body, 'meta').find((a) => a.get('name') === from.name)?.get('content');
    case 'cookie': {
      const cookie = pageCookies(response).filter((c) => c.name === from.name).at(-1);
      return cookie === undefined ? undefined : decodeURIComponentSafe(cookie.value);
    }
    case 'header': {
      const value = response.headers[from.name.toLowerCase()];
      return Array.isArray(value) ? value[0] : value;
    }
    case 'json': {
      const value = jsonBody(response)?.[from.name];
      return typeof value === 'string' ? value : undefined;
    }
  }
}

/** The response's body as a JSON object (an SPA's token endpoint: `{"csrfToken": "…"}`), or undefined. */
function jsonBody(response: ReceivedResponse): Record<string, unknown> | undefined {
  const type = response.headers['content-type'];
  if (typeof type !== 'string' || !/\bjson\b/i.test(type)) return undefined;
  try {
    const value: unknown = JSON.parse(response.body);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function decodeURIComponentSafe(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * Looks for a CSRF token in a page: a hidden input, then a meta tag, then a field of a JSON
 * body, then a response header, then a cookie (the session cookie excluded) whose name says
 * csrf/xsrf.
 */
export function detectCsrf(response: ReceivedResponse, page: string, sessionCookieName: string): ResolvedCsrf | undefined {
  const candidates: Array<ResolvedCsrf['from']> = [];
  for (const input of tags(response.body, 'input')) {
    const name = input.get('name');
    if (name && TOKEN_NAME.test(name) && input.get('value')) candidates.push({ kind: 'input', name });
  }
  for (const meta of tags(response.body, 'meta')) {
    const name = meta.get('name');
    if (name && TOKEN_NAME.test(name) && meta.get('content')) candidates.push({ kind: 'meta', name });
  }
  for (const [name, value] of Object.entries(jsonBody(response) ?? {})) {
    if (TOKEN_NAME.test(name) && typeof value === 'string' && value !== '') candidates.push({ kind: 'json', name });
  }
  for (const [name] of response.rawHeaders) {
    if (/^x-(csrf|xsrf)-token$/i.test(name)) candidates.push({ kind: 'header', name });
  }
  for (const cookie of pageCookies(response)) {
    if (cookie.name !== sessionCookieName && TOKEN_NAME.test(cookie.name) && cookie.value) candidates.push({ kind: 'cookie', name: cookie.name });
  }
  const from = candidates[0];
  return from && { from, to: defaultCsrfTo(from), page };
}

/** `input:_csrf → field:_csrf`, for notes and messages. */
export function describeCsrf(csrf: ResolvedCsrf): string {
  return `${csrf.from.kind}:${csrf.from.name} → ${csrf.to.kind}:${csrf.to.name}${csrf.page ? ` (from GET ${csrf.page})` : ''}`;
}
