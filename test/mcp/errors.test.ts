import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERROR_STATUS, MCP_ERROR_STATUS, SessionGuardError } from '../../src/errors/index.js';
import { McpGuardError, PermissionError, type McpGuardErrorCode } from '../../src/mcp/index.js';

describe('McpGuardError', () => {
  it('is the core’s SessionGuardError, its status read from the one code → status table', () => {
    for (const code of Object.keys(MCP_ERROR_STATUS) as McpGuardErrorCode[]) {
      const error = new McpGuardError(code, 'message');
      assert.ok(error instanceof SessionGuardError, code);
      assert.equal(error.status, ERROR_STATUS[code], code);
      assert.equal(error.name, 'McpGuardError');
    }
    const limit = new McpGuardError('SESSION_LIMIT_REACHED', 'Too many sessions');
    assert.equal(limit.status, ERROR_STATUS.SESSION_LIMIT_REACHED, 'the core’s code keeps the core’s status in MCP');
    assert.equal(new PermissionError().status, 403);
    assert.ok(new PermissionError() instanceof SessionGuardError);
  });

  it('answers a JSON-RPC body with the protocol’s code where there is one, and names nothing internal', () => {
    const cases: [McpGuardErrorCode, number][] = [
      ['PARSE_ERROR', -32700],
      ['INVALID_REQUEST', -32600],
      ['SESSION_NOT_FOUND', -32001],
      ['CREDENTIAL_NOT_FOUND', -32000],
      ['RATE_LIMITED', -32000],
      ['SERVER_BUSY', -32603],
      ['INTERNAL_ERROR', -32603],
    ];
    for (const [code, jsonRpcCode] of cases) {
      const body = new McpGuardError(code, 'Something happened').toJSON();
      assert.deepEqual(body, { jsonrpc: '2.0', error: { code: jsonRpcCode, message: 'Something happened' }, id: null }, code);
      assert.ok(!JSON.stringify(body).includes('Error'), `no class name in the ${code} body`);
    }
  });

  it('still takes the 0.1 constructor with a status, only when it is the table’s status for the code', () => {
    const legacy = new McpGuardError('SESSION_OWNER_MISMATCH', 403, 'Forbidden: unknown tenant.');
    assert.equal(legacy.status, 403);
    assert.equal(legacy.message, 'Forbidden: unknown tenant.');
    assert.throws(() => new McpGuardError('SESSION_OWNER_MISMATCH', 401, 'Unauthorized: unknown tenant.'), {
      name: 'TypeError',
      message: 'McpGuardError: SESSION_OWNER_MISMATCH is answered with 403, not 401; write new McpGuardError("SESSION_OWNER_MISMATCH", message)',
    });
    assert.throws(() => new McpGuardError('NO_SUCH_CODE' as McpGuardErrorCode, 'x'), /McpGuardError: unknown code "NO_SUCH_CODE"/);
  });

  it('gives every answered status its own code: one code, one meaning', () => {
    // The body errors that used to share PARSE_ERROR under three statuses have codes of their own.
    assert.equal(ERROR_STATUS.PARSE_ERROR, 400);
    assert.equal(ERROR_STATUS.PAYLOAD_TOO_LARGE, 413);
    assert.equal(ERROR_STATUS.UNSUPPORTED_MEDIA_TYPE, 415);
    assert.equal(ERROR_STATUS.METHOD_NOT_ALLOWED, 405);
    assert.equal(ERROR_STATUS.BODY_UNREADABLE, 400);
  });
});
