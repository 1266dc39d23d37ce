/**
 * The server surface the official conformance suite (`@modelcontextprotocol/conformance`)
 * exercises — its scenarios name the tools, resources and prompts they call — built once for
 * each era: `legacyConformanceServer` on SDK 1.x for the sessionful guard (2025 scenarios),
 * `modernConformanceServer` on SDK v2 for the stateless guard (2026-07-28 scenarios).
 *
 * Only behaviour is shared with the suite's own reference server; the code is this project's.
 */
import { z } from 'zod';
import { McpServer as LegacyMcpServer, ResourceTemplate as LegacyResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ElicitResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { McpServer, ResourceTemplate, completable, fromJsonSchema, inputRequired, inputResponse } from '@modelcontextprotocol/server';
import type { McpSession } from '../../src/mcp/index.js';
import type { McpStatelessContext } from '../../src/mcp/stateless/index.js';

const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const WAV_EMPTY = 'UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=';

type Content = Record<string, unknown> & { type: string };
const text = (value: string): Content => ({ type: 'text', text: value });

/** Tools whose answer is fixed content, the same in both eras. */
const FIXED_TOOLS: Record<string, { description: string; content: Content[] }> = {
  test_simple_text: { description: 'Answers one text block', content: [text('This is a simple text response for testing.')] },
  test_image_content: { description: 'Answers one image block', content: [{ type: 'image', data: PNG_1X1, mimeType: 'image/png' }] },
  test_audio_content: { description: 'Answers one audio block', content: [{ type: 'audio', data: WAV_EMPTY, mimeType: 'audio/wav' }] },
  test_embedded_resource: {
    description: 'Answers an embedded resource',
    content: [{ type: 'resource', resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' } }],
  },
  test_multiple_content_types: {
    description: 'Answers text, an image and a resource',
    content: [
      text('Multiple content types test:'),
      { type: 'image', data: PNG_1X1, mimeType: 'image/png' },
      { type: 'resource', resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: JSON.stringify({ test: 'data', value: 123 }) } },
    ],
  },
};

const STATIC_RESOURCES = [
  { name: 'static-text', uri: 'test://static-text', mimeType: 'text/plain', body: { text: 'This is the content of the static text resource.' } },
  { name: 'static-binary', uri: 'test://static-binary', mimeType: 'image/png', body: { blob: PNG_1X1 } },
  { name: 'watched-resource', uri: 'test://watched-resource', mimeType: 'text/plain', body: { text: 'Watched resource content' } },
];

/** SEP-1613 and SEP-2106 keywords a listing must carry through unchanged. */
const JSON_SCHEMA_2020_12 = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  $defs: { address: { $anchor: 'addressDef', type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } } },
  properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' }, contactMethod: { type: 'string', enum: ['phone', 'email'] }, phone: { type: 'string' }, email: { type: 'string' } },
  allOf: [{ anyOf: [{ required: ['phone'] }, { required: ['email'] }] }],
  if: { properties: { contactMethod: { const: 'phone' } }, required: ['contactMethod'] },
  then: { required: ['phone'] },
  else: { required: ['email'] },
  additionalProperties: false,
} as const;

const ELICIT_DEFAULTS_SCHEMA = {
  type: 'object' as const,
  properties: {
    name: { type: 'string' as const, description: 'User name', default: 'John Doe' },
    age: { type: 'integer' as const, description: 'User age', default: 30 },
    score: { type: 'number' as const, description: 'User score', default: 95.5 },
    status: { type: 'string' as const, description: 'User status', enum: ['active', 'inactive', 'pending'], default: 'active' },
    verified: { type: 'boolean' as const, description: 'Verification status', default: true },
  },
  required: [],
};

const ELICIT_ENUMS_SCHEMA = {
  type: 'object' as const,
  properties: {
    untitledSingle: { type: 'string' as const, description: 'Select one option', enum: ['option1', 'option2', 'option3'] },
    titledSingle: {
      type: 'string' as const,
      description: 'Select one option with titles',
      oneOf: [
        { const: 'value1', title: 'First Option' },
        { const: 'value2', title: 'Second Option' },
        { const: 'value3', title: 'Third Option' },
      ],
    },
    legacyEnum: { type: 'string' as const, description: 'Select one option (legacy)', enum: ['opt1', 'opt2', 'opt3'], enumNames: ['Option One', 'Option Two', 'Option Three'] },
    untitledMulti: { type: 'array' as const, description: 'Select multiple options', minItems: 1, maxItems: 3, items: { type: 'string' as const, enum: ['option1', 'option2', 'option3'] } },
    titledMulti: {
      type: 'array' as const,
      description: 'Select multiple options with titles',
      minItems: 1,
      maxItems: 3,
      items: {
        anyOf: [
          { const: 'value1', title: 'First Choice' },
          { const: 'value2', title: 'Second Choice' },
          { const: 'value3', title: 'Third Choice' },
        ],
      },
    },
  },
  required: [],
};

/** What both SDKs' `McpServer` have in common for registration (their types differ in detail). */
interface Registrar {
  registerTool(name: string, config: Record<string, unknown>, handler: (...args: any[]) => unknown): unknown;
  registerResource(name: string, uri: unknown, metadata: Record<string, unknown>, read: (...args: any[]) => unknown): unknown;
  registerPrompt(name: string, config: Record<string, unknown>, handler: (...args: any[]) => unknown): unknown;
}

/** Prompt arguments: SDK 1.x takes a raw zod shape, SDK v2 a schema. */
type ArgsSchema = (shape: z.ZodRawShape) => unknown;

function registerShared(server: Registrar, Template: typeof ResourceTemplate | typeof LegacyResourceTemplate, argsSchema: ArgsSchema): void {
  for (const [name, tool] of Object.entries(FIXED_TOOLS)) {
    server.registerTool(name, { description: tool.description, inputSchema: z.object({}) }, async () => ({ content: tool.content }));
  }
  server.registerTool('test_error_handling', { description: 'Always fails', inputSchema: z.object({}) }, async () => {
    throw new Error('This tool intentionally returns an error for testing');
  });
  for (const resource of STATIC_RESOURCES) {
    server.registerResource(resource.name, resource.uri, { title: resource.name, mimeType: resource.mimeType }, async () => ({
      contents: [{ uri: resource.uri, mimeType: resource.mimeType, ...resource.body }],
    }));
  }
  server.registerResource(
    'template',
    new Template('test://template/{id}/data', { list: undefined }),
    { title: 'Resource Template', mimeType: 'application/json' },
    async (uri: URL, variables: { id?: string }) => ({
      contents: [{ uri: uri.toString(), mimeType: 'application/json', text: JSON.stringify({ id: variables.id, templateTest: true, data: `Data for ID: ${variables.id}` }) }],
    }),
  );
  server.registerPrompt('test_simple_prompt', { title: 'Simple Test Prompt', description: 'A prompt without arguments' }, async () => ({
    messages: [{ role: 'user', content: text('This is a simple prompt for testing.') }],
  }));
  server.registerPrompt(
    'test_prompt_with_arguments',
    { title: 'Prompt With Arguments', description: 'A prompt with two arguments', argsSchema: argsSchema({ arg1: z.string(), arg2: z.string() }) },
    async ({ arg1, arg2 }: { arg1: string; arg2: string }) => ({ messages: [{ role: 'user', content: text(`Prompt with arguments: arg1='${arg1}', arg2='${arg2}'`) }] }),
  );
  server.registerPrompt(
    'test_prompt_with_embedded_resource',
    { title: 'Prompt With Embedded Resource', description: 'A prompt embedding a resource', argsSchema: argsSchema({ resourceUri: z.string() }) },
    async ({ resourceUri }: { resourceUri: string }) => ({
      messages: [
        { role: 'user', content: { type: 'resource', resource: { uri: resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' } } },
        { role: 'user', content: text('Please process the embedded resource above.') },
      ],
    }),
  );
  server.registerPrompt('test_prompt_with_image', { title: 'Prompt With Image', description: 'A prompt with an image' }, async () => ({
    messages: [
      { role: 'user', content: { type: 'image', data: PNG_1X1, mimeType: 'image/png' } },
      { role: 'user', content: text('Please analyze the image above.') },
    ],
  }));
}

const CAPABILITIES = { tools: { listChanged: true }, resources: { subscribe: true, listChanged: true }, prompts: { listChanged: true }, logging: {}, completions: {} };

type Notify = (notification: { method: string; params: Record<string, unknown> }) => Promise<void>;

async function steps(notify: Notify, build: (step: number) => { method: string; params: Record<string, unknown> }): Promise<void> {
  for (const step of [0, 1, 2]) {
    await notify(build(step));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The 2025 surface on SDK 1.x, for `createMcpSessionGuard({ createServer })`. */
export function legacyConformanceServer(_session?: McpSession): LegacyMcpServer {
  const server = new LegacyMcpServer({ name: 'fixation-guard-conformance', version: '1.0.0' }, { capabilities: CAPABILITIES });
  registerShared(server as unknown as Registrar, LegacyResourceTemplate, (shape) => shape);
  // SDK 1.x turns zod into JSON Schema and drops `$schema`/`$defs`: the listing shows the raw schema instead.
  server.registerTool('json_schema_2020_12_tool', { description: 'A raw JSON Schema 2020-12 input schema', inputSchema: { name: z.string().optional(), address: z.object({ street: z.string().optional(), city: z.string().optional() }).optional() } }, async (args) => ({
    content: [{ type: 'text', text: `JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}` }],
  }));
  const handlers = (server.server as unknown as { _requestHandlers: Map<string, (request: unknown, extra: unknown) => Promise<{ tools: { name: string; inputSchema: unknown }[] }>> })._requestHandlers;
  const listTools = handlers.get('tools/list');
  if (listTools) {
    handlers.set('tools/list', async (request, extra) => {
      const listed = await listTools(request, extra);
      return { ...listed, tools: listed.tools.map((tool) => (tool.name === 'json_schema_2020_12_tool' ? { ...tool, inputSchema: JSON_SCHEMA_2020_12 } : tool)) };
    });
  }
  server.registerTool('test_tool_with_logging', { description: 'Logs while it runs', inputSchema: z.object({}) }, async (_args, extra) => {
    await steps(extra.sendNotification as Notify, (step) => ({ method: 'notifications/message', params: { level: 'info', data: ['Tool execution started', 'Tool processing data', 'Tool execution completed'][step] } }));
    return { content: [{ type: 'text', text: 'Tool with logging executed successfully' }] };
  });
  server.registerTool('test_tool_with_progress', { description: 'Reports progress', inputSchema: z.object({}) }, async (_args, extra) => {
    const progressToken = extra._meta?.progressToken ?? 0;
    await steps(extra.sendNotification as Notify, (step) => ({ method: 'notifications/progress', params: { progressToken, progress: step * 50, total: 100, message: `Completed step ${step * 50} of 100` } }));
    return { content: [{ type: 'text', text: String(progressToken) }] };
  });
  server.registerTool('test_reconnection', { description: 'Closes its SSE stream mid-call when the transport can resume (SEP-1699)', inputSchema: z.object({}) }, async (_args, extra) => {
    extra.closeSSEStream?.();
    await new Promise((resolve) => setImmediate(resolve));
    return { content: [{ type: 'text', text: 'Reconnection test completed successfully.' }] };
  });
  server.registerTool('test_sampling', { description: 'Asks the client for a completion', inputSchema: z.object({ prompt: z.string() }) }, async ({ prompt }) => {
    const answer = await server.server.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 100 });
    const content = answer.content as { text?: string };
    return { content: [{ type: 'text', text: `LLM response: ${content.text ?? 'No response'}` }] };
  });
  const elicit = async (message: string, requestedSchema: Record<string, unknown>) => {
    const result = await server.server.request({ method: 'elicitation/create', params: { mode: 'form', message, requestedSchema } }, ElicitResultSchema);
    return { content: [{ type: 'text' as const, text: `User response: action=${result.action}, content=${JSON.stringify(result.content ?? {})}` }] };
  };
  server.registerTool('test_elicitation', { description: 'Asks the user', inputSchema: z.object({ message: z.string() }) }, async ({ message }) =>
    elicit(message, { type: 'object', properties: { response: { type: 'string', description: "User's response" } }, required: ['response'] }),
  );
  server.registerTool('test_elicitation_sep1034_defaults', { description: 'Elicitation with defaults', inputSchema: z.object({}) }, async () =>
    elicit('Please review and update the form fields with defaults', ELICIT_DEFAULTS_SCHEMA),
  );
  server.registerTool('test_elicitation_sep1330_enums', { description: 'Elicitation with enums', inputSchema: z.object({}) }, async () => elicit('Please select options from the enum fields', ELICIT_ENUMS_SCHEMA));
  server.server.setRequestHandler(
    z.object({ method: z.literal('resources/subscribe'), params: z.object({ uri: z.string() }).passthrough() }).passthrough() as never,
    async () => ({}),
  );
  server.server.setRequestHandler(
    z.object({ method: z.literal('resources/unsubscribe'), params: z.object({ uri: z.string() }).passthrough() }).passthrough() as never,
    async () => ({}),
  );
  server.server.setRequestHandler(z.object({ method: z.literal('completion/complete') }).passthrough() as never, async () => ({ completion: { values: [], total: 0, hasMore: false } }));
  return server;
}

const CONFIRM = inputRequired.elicit({ message: 'Please confirm', requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } });
const ASK_NAME = (message: string) => inputRequired.elicit({ message, requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } });

/** The 2026-07-28 surface on SDK v2, for `createMcpStatelessGuard({ createServer })`: states are sealed by the adapter's codec. */
export function modernConformanceServer(ctx: McpStatelessContext): McpServer {
  const server = new McpServer({ name: 'fixation-guard-conformance', version: '1.0.0' }, { capabilities: { tools: { listChanged: true }, resources: { listChanged: true }, prompts: { listChanged: true }, completions: {} }, ...ctx.serverOptions });
  // `arg1` of test_prompt_with_arguments completes (the McpServer then answers completion/complete).
  const withCompletion = (shape: z.ZodRawShape) =>
    z.object(Object.fromEntries(Object.entries(shape).map(([key, schema]) => [key, key === 'arg1' ? completable(schema as z.ZodString, (value) => ['paris', 'park', 'party'].filter((word) => word.startsWith(value ?? ''))) : schema])));
  registerShared(server as unknown as Registrar, ResourceTemplate, withCompletion);
  server.registerPrompt('test_input_required_result_prompt', { title: 'Prompt needing input', description: 'Asks for context first' }, async (sdk) => {
    const answer = inputResponse(sdk.mcpReq.inputResponses, 'user_context');
    if (answer.kind !== 'elicit') {
      return inputRequired({ inputRequests: { user_context: inputRequired.elicit({ message: 'What context should the prompt use?', requestedSchema: { type: 'object', properties: { context: { type: 'string' } }, required: ['context'] } }) } });
    }
    return { messages: [{ role: 'user' as const, content: { type: 'text' as const, text: `Context: ${String(answer.content?.context ?? '')}` } }] };
  });
  server.registerTool('test_input_required_result_capabilities', { description: 'Asks only for what the client declared', inputSchema: z.object({}) }, async (_args, sdk) => {
    const declared = (sdk.mcpReq._meta?.['io.modelcontextprotocol/clientCapabilities'] ?? {}) as Record<string, unknown>;
    if (sdk.mcpReq.inputResponses !== undefined) return { content: [{ type: 'text' as const, text: 'inputs received' }] };
    const requests: Record<string, ReturnType<typeof inputRequired.listRoots>> = {};
    if (declared.elicitation) requests.user_name = ASK_NAME('What is your name?');
    if (declared.sampling) requests.greeting = inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'Generate a greeting' } }], maxTokens: 50 });
    if (declared.roots) requests.client_roots = inputRequired.listRoots();
    if (Object.keys(requests).length === 0) return { content: [{ type: 'text' as const, text: 'no input capability declared' }] };
    return inputRequired({ inputRequests: requests });
  });
  server.registerTool('json_schema_2020_12_tool', { description: 'A raw JSON Schema 2020-12 input schema', inputSchema: fromJsonSchema(JSON_SCHEMA_2020_12) }, async (args) => ({
    content: [{ type: 'text', text: `JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}` }],
  }));
  server.registerTool('test_tool_with_progress', { description: 'Reports progress', inputSchema: z.object({}) }, async (_args, sdk) => {
    const progressToken = sdk.mcpReq._meta?.progressToken ?? 0;
    await steps(sdk.mcpReq.notify as Notify, (step) => ({ method: 'notifications/progress', params: { progressToken, progress: step * 50, total: 100, message: `Completed step ${step * 50} of 100` } }));
    return { content: [{ type: 'text', text: String(progressToken) }] };
  });
  const done = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });
  server.registerTool('test_input_required_result_elicitation', { description: 'One elicitation round', inputSchema: z.object({}) }, async (_args, sdk) => {
    const answer = inputResponse(sdk.mcpReq.inputResponses, 'user_name');
    if (answer.kind !== 'elicit') return inputRequired({ inputRequests: { user_name: ASK_NAME('What is your name?') } });
    return done(`Hello, ${String(answer.content?.name ?? 'stranger')}!`);
  });
  server.registerTool('test_input_required_result_sampling', { description: 'One sampling round', inputSchema: z.object({}) }, async (_args, sdk) => {
    const answer = inputResponse(sdk.mcpReq.inputResponses, 'capital_question');
    if (answer.kind !== 'sampling') {
      return inputRequired({ inputRequests: { capital_question: inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'What is the capital of France?' } }], maxTokens: 100 }) } });
    }
    return done(`Sampling answered: ${JSON.stringify(answer.result.content)}`);
  });
  server.registerTool('test_input_required_result_list_roots', { description: 'One roots round', inputSchema: z.object({}) }, async (_args, sdk) => {
    const answer = inputResponse(sdk.mcpReq.inputResponses, 'client_roots');
    if (answer.kind !== 'roots') return inputRequired({ inputRequests: { client_roots: inputRequired.listRoots() } });
    return done(`Roots: ${answer.roots.map((root) => root.uri).join(', ')}`);
  });
  for (const name of ['test_input_required_result_request_state', 'test_input_required_result_tampered_state']) {
    server.registerTool(name, { description: 'Round trip of a sealed requestState', inputSchema: z.object({}) }, async (_args, sdk) => {
      const state = sdk.mcpReq.requestState<{ round: number }>();
      if (state === undefined) return inputRequired({ inputRequests: { confirm: CONFIRM }, requestState: ctx.requestState.mint({ round: 1 }) });
      return done(`state-ok (round ${state.round})`);
    });
  }
  server.registerTool('test_input_required_result_multiple_inputs', { description: 'Three input requests at once', inputSchema: z.object({}) }, async (_args, sdk) => {
    const state = sdk.mcpReq.requestState<{ round: number }>();
    if (state === undefined) {
      return inputRequired({
        inputRequests: {
          user_name: ASK_NAME('What is your name?'),
          greeting: inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'Generate a greeting' } }], maxTokens: 50 }),
          client_roots: inputRequired.listRoots(),
        },
        requestState: ctx.requestState.mint({ round: 1 }),
      });
    }
    return done('all inputs received');
  });
  server.registerTool('test_input_required_result_multi_round', { description: 'Two rounds of input', inputSchema: z.object({}) }, async (_args, sdk) => {
    const state = sdk.mcpReq.requestState<{ round: number; name?: string }>();
    if (state === undefined) return inputRequired({ inputRequests: { step1: ASK_NAME('Step 1: What is your name?') }, requestState: ctx.requestState.mint({ round: 1 }) });
    if (state.round === 1) {
      const name = inputResponse(sdk.mcpReq.inputResponses, 'step1');
      return inputRequired({
        inputRequests: { step2: inputRequired.elicit({ message: 'Step 2: What is your favorite color?', requestedSchema: { type: 'object', properties: { color: { type: 'string' } }, required: ['color'] } }) },
        requestState: ctx.requestState.mint({ round: 2, name: name.kind === 'elicit' ? String(name.content?.name ?? '') : '' }),
      });
    }
    const color = inputResponse(sdk.mcpReq.inputResponses, 'step2');
    return done(`${state.name ?? ''} likes ${color.kind === 'elicit' ? String(color.content?.color ?? '') : 'nothing'}`);
  });
  return server;
}
