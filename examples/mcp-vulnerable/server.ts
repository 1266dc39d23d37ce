/**
 * `npm run example:mcp-vulnerable`: an MCP server with the multi-tenant advisory's mistakes —
 * one session reused across users, the OAuth client id taken for the user, limits never
 * enforced — for `fixation-guard attack-mcp` to catch. Never deploy it.
 *
 * MCP (Streamable HTTP, both eras) at http://127.0.0.1:$PORT/mcp; PORT defaults to 3000.
 * Bearer tokens: `npx tsx examples/mcp-vulnerable/token.ts alice` (and bob).
 */
import { ADVISORY_FLAWS, createMcpExampleApp } from './app.js';

const port = Number(process.env.PORT ?? 3000);
const { app, close } = createMcpExampleApp({ flaws: ADVISORY_FLAWS });
const server = app.listen(port, '127.0.0.1', (error?: Error) => {
  if (error) {
    console.error(`mcp-vulnerable could not listen on http://127.0.0.1:${port}: ${error.message}`);
    process.exit(1);
  }
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  console.log(`mcp-vulnerable listening on http://127.0.0.1:${actual} (MCP endpoint /mcp; flaws: ${ADVISORY_FLAWS.join(', ')})`);
});

function shutdown(): void {
  server.closeAllConnections();
  server.close(() => void close().finally(() => process.exit(0)));
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
