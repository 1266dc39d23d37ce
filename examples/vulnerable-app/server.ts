/**
 * The deliberately vulnerable example: the same app with session-id rotation switched off
 * (strategy 'none'). The pre-login id stays the authenticated id: session fixation. The
 * attack suite must catch it. Never copy this configuration.
 */
import { serveLoginApp } from '../shared/serve.js';

await serveLoginApp('vulnerable-app', {
  guard: { strategy: 'none', dangerouslyAllowSessionFixation: true },
});
