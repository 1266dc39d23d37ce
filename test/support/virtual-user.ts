/**
 * A virtual user of a load test: one browser's cookie jar for the session cookie, talking to
 * any instance of a fleet over real HTTP, recording every answer it got. Users share a
 * keep-alive connection pool per instance (as users behind a load balancer do): all of them are
 * in flight at once, without opening a socket each.
 */
import { Agent, request as httpRequest } from 'node:http';

/** Sockets per instance shared by every virtual user. */
export const SOCKETS_PER_INSTANCE = 64;
const agent = new Agent({ keepAlive: true, maxSockets: SOCKETS_PER_INSTANCE });

interface RawResponse {
  status: number;
  setCookie: string[];
  text: string;
}

/** Reused keep-alive sockets that may turn out closed, one after the other, before a request gives up. */
const STALE_SOCKET_RETRIES = 3;

async function send(url: URL, method: string, headers: Record<string, string>, body: string | undefined): Promise<RawResponse> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await sendOnce(url, method, headers, body);
    } catch (error) {
      // A keep-alive socket the server closed as idle just as it was reused: the request never
      // reached the app (Node's documented retry case, `req.reusedSocket`). The agent may hold
      // more than one such socket after a stall of the test process.
      const stale = (error as { reusedSocket?: boolean }).reusedSocket && (error as { code?: string }).code === 'ECONNRESET';
      if (!stale || attempt >= STALE_SOCKET_RETRIES) throw error;
    }
  }
}

function sendOnce(url: URL, method: string, headers: Record<string, string>, body: string | undefined): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, agent, timeout: 20_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, setCookie: res.headers['set-cookie'] ?? [], text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 20 s')));
    req.on('error', (error) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
    req.end(body);
  });
}
export interface Answer {
  method: string;
  path: string;
  status: number;
  /** The parsed JSON body, or undefined. */
  body: any;
  /** A network-level failure (the app closed the connection), instead of a status. */
  error?: string;
}

export class VirtualUser {
  readonly username: string;
  readonly password: string;
  /** `sid=<signed id>` as the browser would send it, or undefined. */
  cookie: string | undefined;
  readonly answers: Answer[] = [];
  readonly cookieName: string;

  constructor(username: string, password: string, cookieName = 'sid') {
    this.username = username;
    this.password = password;
    this.cookieName = cookieName;
  }

  async request(baseUrl: string, method: string, path: string, json?: unknown): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (this.cookie) headers.cookie = this.cookie;
    if (json !== undefined) headers['content-type'] = 'application/json';
    let answer: Answer;
    try {
      const res = await send(new URL(path, baseUrl), method, headers, json === undefined ? undefined : JSON.stringify(json));
      for (const line of res.setCookie) {
        const pair = line.split(';')[0] as string;
        if (!pair.startsWith(`${this.cookieName}=`)) continue;
        // A clearing Set-Cookie (empty value or an expiry in the past) drops the cookie.
        this.cookie = pair.length > this.cookieName.length + 1 && !/expires=Thu, 01 Jan 1970/i.test(line) ? pair : undefined;
      }
      const text = res.text;
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }
      answer = { method, path, status: res.status, body };
    } catch (error) {
      const cause = (error as { code?: string }).code;
      answer = { method, path, status: 0, body: undefined, error: `${(error as Error).message}${cause ? ` (${cause})` : ''}` };
    }
    this.answers.push(answer);
    return answer;
  }

  login(baseUrl: string): Promise<Answer> {
    return this.request(baseUrl, 'POST', '/login', { username: this.username, password: this.password });
  }

  /**
   * Answers that name a user other than this one (cross-talk). A 200 names `user` in its body;
   * an anonymous answer names null.
   */
  crossTalk(): Answer[] {
    return this.answers.filter((a) => a.status === 200 && a.body && typeof a.body === 'object' && 'user' in a.body && a.body.user !== null && a.body.user !== this.username);
  }
}

/** Runs `work` for each item with at most `limit` in flight. */
export async function pool<T>(items: readonly T[], limit: number, work: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await work(items[i] as T, i);
    }
  });
  await Promise.all(runners);
}
