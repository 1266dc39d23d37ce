import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { McpSession } from './session-handle.js';

export const REVOKE_TOOL_NAME = 'revoke_current_session';
export const VALIDATE_RESOURCE_URI = 'session://validate';

/**
 * Registers `revoke_current_session` and `session://validate` on a session's server.
 * Both act on the session the request arrived on; neither takes a session id argument.
 *
 * @example
 * registerSessionTools(server, session); // createMcpSessionGuard does this unless `sessionTools: false`
 */
export function registerSessionTools(server: McpServer, session: McpSession): void {
  server.registerTool(
    REVOKE_TOOL_NAME,
    {
      title: 'Revoke this session',
      description: 'Ends the current MCP session at once. The client must reconnect and authenticate again.',
      annotations: { destructiveHint: true, idempotentHint: true },
    },
    async function revokeCurrentSession() {
      session.revoke('revoke_current_session');
      return { content: [{ type: 'text' as const, text: 'Session revoked. Reconnect and authenticate to continue.' }] };
    },
  );
  server.registerResource(
    'session-status',
    VALIDATE_RESOURCE_URI,
    { title: 'Session status', description: 'Whether this session is valid and authenticated, and when it expires (no raw ids).', mimeType: 'application/json' },
    async function readSessionStatus(uri) {
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(session.status()) }] };
    },
  );
}
