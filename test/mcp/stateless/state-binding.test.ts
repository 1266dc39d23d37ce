import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Express } from 'express';
import type { Auditor, memorySink } from '../../../src/audit/index.js';
import { mcpErrorHandler, mcpJsonBody } from '../../../src/mcp/http.js';
import { mcpStatelessIdentity } from '../../../src/mcp/stateless/bearer.js';
import { createRequestStateCodec, type SealedRequestStateCodec } from '../../../src/mcp/stateless/codec.js';
import { mcpRequestStateBinding, requestKey, requestScopeOf, REQUEST_STATE_ERROR_MESSAGE } from '../../../src/mcp/stateless/state-binding.js';
import { withExpressApp } from '../helpers.js';
import { demoVerifier, STATE_KEY } from './helpers.js';

const AUDIENCE = 'http://127.0.0.1/mcp';
const call = (amount: number, requestState?: string) => ({
  jsonrpc: '2.0',
  id: 7,
  method: 'tools/call',
  params: { name: 'transfer', arguments: { amount }, ...(requestState === undefined ? {} : { requestState }) },
});

/** Identity, then (when `bound`) the request-state binding, in front of a route that answers what reached it. */
function withBindingApp(bound: boolean, body: (post: (token: string, message: unknown) => Promise<Response>, codec: SealedRequestStateCodec, audit: ReturnType<typeof memorySink>) => Promise<void>): Promise<void> {
  let codec: SealedRequestStateCodec | undefined;
  return withExpressApp(
    (app: Express, auditor: Auditor) => {
      codec = createRequestStateCodec({ keys: [{ id: 'k1', secret: STATE_KEY }], audience: AUDIENCE, audit: auditor });
      app.post(
        '/mcp',
        mcpJsonBody(),
        mcpStatelessIdentity({ verifier: demoVerifier, resourceMetadataUrl: `${AUDIENCE}/.well-known`, auditor }),
        ...(bound ? [mcpRequestStateBinding({ codec, audience: AUDIENCE })] : []),
        function reached(req, res) {
          const scope = requestScopeOf(req);
          res.json({ reached: true, principal: scope?.principal ?? null, opened: scope ? [...scope.opened.values()] : null });
        },
      );
      app.use('/mcp', mcpErrorHandler());
    },
    (url, audit) =>
      body(
        (token, message) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(message) }),
        codec as SealedRequestStateCodec,
        audit,
      ),
  );
}

describe('mcpRequestStateBinding', () => {
  it('lets a state minted for Alice reach the tool under Bob’s token when it is not mounted (the attack)', async () => {
    await withBindingApp(false, async (post, codec) => {
      const aliceState = codec.mint({ amount: 5 }, { principal: 'alice', audience: AUDIENCE, request: requestKey(call(5)) });
      assert.equal(((await (await post('bob-token', call(5, aliceState))).json()) as { reached: boolean }).reached, true);
    });
  });

  it('opens the state for the principal and the originating request it was minted for, before anything else sees it', async () => {
    await withBindingApp(true, async (post, codec) => {
      const state = codec.mint({ amount: 5 }, { principal: 'alice', audience: AUDIENCE, request: requestKey(call(5)) });
      assert.deepEqual(await (await post('alice-token', call(5, state))).json(), { reached: true, principal: 'alice', opened: [{ amount: 5 }] });
      assert.deepEqual(await (await post('alice-token', call(5))).json(), { reached: true, principal: 'alice', opened: [] }, 'a request without a state has an empty scope');
    });
  });

  it('answers one frozen error for a state of another principal or another request, and audits the real reason', async () => {
    await withBindingApp(true, async (post, codec, audit) => {
      const state = codec.mint({ amount: 5 }, { principal: 'alice', audience: AUDIENCE, request: requestKey(call(5)) });
      const frozen = { jsonrpc: '2.0', id: 7, error: { code: -32602, message: REQUEST_STATE_ERROR_MESSAGE, data: { reason: 'invalid_request_state' } } };
      const asBob = await post('bob-token', call(5, state));
      assert.equal(asBob.status, 200);
      assert.deepEqual(await asBob.json(), frozen);
      assert.deepEqual(await (await post('alice-token', call(500, state))).json(), frozen, 'carried to other arguments');
      assert.deepEqual(await (await post('alice-token', call(5, `${state}x`))).json(), frozen, 'tampered');
      assert.deepEqual(audit.of('request_state_rejected').map((event) => event.reason).slice(0, 2), ['principal_mismatch', 'request_mismatch']);
      assert.ok(!JSON.stringify(audit.events).includes(state), 'never the state itself');
    });
  });
});
