// The official OpenAI SDK against tollgated's POST /v1/chat/completions and
// GET /v1/models (PROTOCOL.md section 11), with a real daemon and fake provider.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import OpenAI from 'openai';
import { startDaemon, keys, setLimit, fetchLosingFirstResponse } from './harness.mjs';

let d;
const client = (key = keys.research, options = {}) =>
  new OpenAI({ baseURL: `${d.base}/v1`, apiKey: key, maxRetries: 0, ...options });
const weather = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

before(async () => { d = await startDaemon(); });
after(async () => { await d.stop(); });

test('a plain chat completion is answered in the OpenAI format and charged to the key agent', async () => {
  const { data, response } = await client().chat.completions
    .create({ model: 'auto', messages: [{ role: 'user', content: 'hello from the sdk' }] })
    .withResponse();
  assert.equal(data.object, 'chat.completion');
  assert.equal(data.choices[0].message.content, 'echo: hello from the sdk');
  assert.equal(data.choices[0].finish_reason, 'stop');
  assert.ok(data.usage.prompt_tokens > 0 && data.usage.completion_tokens > 0);
  assert.equal(response.headers.get('x-tollgate-provider'), 'anthropic');
  assert.equal(response.headers.get('x-tollgate-reason'), 'primary');
  const usage = await d.status('ai/research');
  assert.equal(usage.providers.anthropic.requests, 1);
  assert.equal(usage.providers.anthropic.used, data.usage.prompt_tokens + data.usage.completion_tokens);
  const metrics = await (await fetch(`${d.base}/metrics`)).text();
  assert.match(metrics, /tollgate_requests_total\{[^}]*op="call"[^}]*transport="http"[^}]*\} 1\b/);
});

test('a streamed completion arrives as chunks with usage and the SDK assembles it', async () => {
  const stream = await client().chat.completions.create({
    model: 'openai/gpt-4.1', stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'stream these words please' }],
  });
  let text = '';
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks += 1;
    if (chunk.choices[0]?.delta?.content) text += chunk.choices[0].delta.content;
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, 'echo: stream these words please');
  assert.ok(chunks > 3, `only ${chunks} chunks`);
  assert.ok(usage && usage.completion_tokens > 0);
});

test('tool calls come back as tool_calls plain and streamed', async () => {
  const body = {
    model: 'auto', tools: [weather],
    messages: [{ role: 'user', content: 'what is the weather [call_tool get_weather {"city": "Paris"}]' }],
  };
  const plain = await client().chat.completions.create(body);
  assert.equal(plain.choices[0].finish_reason, 'tool_calls');
  const call = plain.choices[0].message.tool_calls[0];
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
  const streamed = await client().chat.completions.stream(body).finalChatCompletion();
  const scall = streamed.choices[0].message.tool_calls[0];
  assert.equal(scall.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(scall.function.arguments), { city: 'Paris' });
  assert.equal(streamed.choices[0].finish_reason, 'tool_calls');
});

test('errors map to the SDK exception classes', async () => {
  const ask = (c, model = 'auto') => c.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
  await assert.rejects(ask(client('sk-tg-not-a-key-0000000000')), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  await assert.rejects(ask(client(keys.limited), 'openai/gpt-4.1'), (e) => e instanceof OpenAI.PermissionDeniedError);
  await assert.rejects(ask(client(), 'nowhere/model'), (e) => e instanceof OpenAI.BadRequestError && /names no configured provider/.test(e.message));
  await setLimit(d, 'writer', 'anthropic', 1);
  await setLimit(d, 'writer', 'openai', 1);
  // x-should-retry: false keeps the SDK from retrying a spent budget.
  await assert.rejects(ask(client(keys.writer, { maxRetries: 2 })), (e) =>
    e instanceof OpenAI.RateLimitError && e.code === 'insufficient_quota' && e.type === 'insufficient_quota');
  const usage = await d.status('ai/writer');
  assert.equal((usage.providers.anthropic?.requests ?? 0) + (usage.providers.openai?.requests ?? 0), 0);
});

test('the SDK retry of a lost response with an Idempotency-Key is charged once', async () => {
  const lossy = fetchLosingFirstResponse();
  const before = (await d.status('ai/research')).providers.anthropic.requests;
  const { data, response } = await client(keys.research, { maxRetries: 2, fetch: lossy }).chat.completions
    .create({ model: 'auto', messages: [{ role: 'user', content: 'charge me once' }] },
            { headers: { 'Idempotency-Key': 'openai-sdk-retry-1' } })
    .withResponse();
  assert.equal(lossy.calls(), 2);
  assert.equal(response.headers.get('x-tollgate-replayed'), 'true');
  assert.equal(data.choices[0].message.content, 'echo: charge me once');
  const after = (await d.status('ai/research')).providers.anthropic.requests;
  assert.equal(after - before, 1);
});

test('models lists auto and each configured provider model', async () => {
  const ids = [];
  for await (const m of client().models.list()) ids.push(m.id);
  assert.ok(ids.includes('auto'));
  assert.ok(ids.some((id) => id.startsWith('anthropic/')));
  assert.ok(ids.some((id) => id.startsWith('openai/')));
});

test('a key added to the keys file works after a reload', async () => {
  const fresh = 'sk-tg-added-on-reload-0123456789';
  const ask = () => client(fresh).chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'new key' }] });
  await assert.rejects(ask(), (e) => e instanceof OpenAI.AuthenticationError);
  appendFileSync(d.keysFile, `${fresh} newcomer\n`);
  d.tollgated.proc.kill('SIGHUP');
  await d.tollgated.line(/reload: 4 agent keys/);
  const reply = await ask();
  assert.equal(reply.choices[0].message.content, 'echo: new key');
  assert.equal((await d.status('ai/newcomer')).providers.anthropic.requests, 1);
  // A file that no longer reads keeps the keys in use.
  appendFileSync(d.keysFile, 'one-word-line\n');
  d.tollgated.proc.kill('SIGHUP');
  await d.tollgated.line(/the agent keys in use are kept/);
  assert.equal((await ask()).choices[0].message.content, 'echo: new key');
});

test('a rate limit is a RateLimitError with the retry-after the SDK waits for', async () => {
  const limited = await startDaemon({ env: { ANTHROPIC_RPM: '1', OPENAI_RPM: '1' } });
  try {
    const c = new OpenAI({ baseURL: `${limited.base}/v1`, apiKey: keys.research, maxRetries: 0 });
    const ask = () => c.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    assert.equal((await ask()).response.headers.get('x-tollgate-provider'), 'anthropic');
    assert.equal((await ask()).response.headers.get('x-tollgate-reason').startsWith('fallback'), true);
    await assert.rejects(ask(), (e) => e instanceof OpenAI.RateLimitError && e.status === 429 &&
      Number(e.headers.get('retry-after')) >= 1 && e.headers.get('x-should-retry') === 'true');
  } finally {
    await limited.stop();
  }
});

test('a streamed request repeated with its Idempotency-Key is replayed as a whole stream and charged once', async () => {
  const before = (await d.status('ai/research')).providers.anthropic.requests;
  const run = async () => {
    const stream = await client().chat.completions.create(
      { model: 'auto', stream: true, messages: [{ role: 'user', content: 'replay this stream' }] },
      { headers: { 'Idempotency-Key': 'openai-stream-replay-1' } });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    return text;
  };
  assert.equal(await run(), 'echo: replay this stream');
  assert.equal(await run(), 'echo: replay this stream');
  assert.equal((await d.status('ai/research')).providers.anthropic.requests - before, 1);
});
