// The official Anthropic SDK against tollgated's POST /v1/messages
// (PROTOCOL.md section 11), with a real daemon and fake provider.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startDaemon, keys, setLimit, fakeStats, eventually, fetchLosingFirstResponse } from './harness.mjs';

let d;
const client = (key = keys.research, options = {}) =>
  new Anthropic({ baseURL: d.base, apiKey: key, maxRetries: 0, ...options });
const weather = {
  name: 'get_weather',
  description: 'Weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

before(async () => { d = await startDaemon(); });
after(async () => { await d.stop(); });

test('a plain message is answered in the Anthropic format and charged to the key agent', async () => {
  const { data, response } = await client().messages
    .create({ model: 'auto', max_tokens: 64, messages: [{ role: 'user', content: 'hello anthropic sdk' }] })
    .withResponse();
  assert.equal(data.type, 'message');
  assert.equal(data.content[0].type, 'text');
  assert.equal(data.content[0].text, 'echo: hello anthropic sdk');
  assert.equal(data.stop_reason, 'end_turn');
  assert.equal(response.headers.get('x-tollgate-provider'), 'anthropic');
  const usage = await d.status('ai/research');
  assert.equal(usage.providers.anthropic.requests, 1);
  assert.equal(usage.providers.anthropic.used, data.usage.input_tokens + data.usage.output_tokens);
});

test('a streamed message arrives as events and the SDK assembles it', async () => {
  const stream = client().messages.stream({
    model: 'auto', max_tokens: 64, messages: [{ role: 'user', content: 'stream me some words' }],
  });
  const types = new Set();
  stream.on('streamEvent', (e) => types.add(e.type));
  const message = await stream.finalMessage();
  assert.equal(message.content[0].text, 'echo: stream me some words');
  assert.equal(message.stop_reason, 'end_turn');
  assert.ok(message.usage.output_tokens > 0 && message.usage.input_tokens > 0);
  for (const t of ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']) {
    assert.ok(types.has(t), `no ${t}`);
  }
});

test('tool use comes back as tool_use blocks plain and streamed', async () => {
  const body = {
    model: 'auto', max_tokens: 128, tools: [weather],
    messages: [{ role: 'user', content: 'weather? [call_tool get_weather {"city": "Oslo"}]' }],
  };
  const plain = await client().messages.create(body);
  assert.equal(plain.stop_reason, 'tool_use');
  const use = plain.content.find((b) => b.type === 'tool_use');
  assert.equal(use.name, 'get_weather');
  assert.deepEqual(use.input, { city: 'Oslo' });
  const streamed = await client().messages.stream(body).finalMessage();
  const suse = streamed.content.find((b) => b.type === 'tool_use');
  assert.deepEqual(suse.input, { city: 'Oslo' });
  assert.equal(streamed.stop_reason, 'tool_use');
});

test('errors map to the SDK exception classes', async () => {
  const ask = (c, model = 'auto') => c.messages.create({ model, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
  await assert.rejects(ask(client('sk-tg-not-a-key-0000000000')), (e) => e instanceof Anthropic.AuthenticationError);
  await assert.rejects(ask(client(keys.limited), 'anthropic/claude-sonnet-4-5'), (e) => e instanceof Anthropic.PermissionDeniedError);
  await setLimit(d, 'writer', 'anthropic', 1);
  await setLimit(d, 'writer', 'openai', 1);
  await assert.rejects(ask(client(keys.writer, { maxRetries: 2 })), (e) =>
    e instanceof Anthropic.RateLimitError && e.error?.error?.type === 'rate_limit_error');
});

test('the SDK retry of a lost response with an Idempotency-Key is charged once', async () => {
  const lossy = fetchLosingFirstResponse();
  const before = (await d.status('ai/research')).providers.anthropic.requests;
  const { data, response } = await client(keys.research, { maxRetries: 2, fetch: lossy }).messages
    .create({ model: 'auto', max_tokens: 32, messages: [{ role: 'user', content: 'only once' }] },
            { headers: { 'Idempotency-Key': 'anthropic-sdk-retry-1' } })
    .withResponse();
  assert.equal(lossy.calls(), 2);
  assert.equal(response.headers.get('x-tollgate-replayed'), 'true');
  assert.equal(data.content[0].text, 'echo: only once');
  assert.equal((await d.status('ai/research')).providers.anthropic.requests - before, 1);
});

test('a client that goes away mid-stream cuts the provider stream and the call is charged', async () => {
  await d.faults(['anthropic:event_delay_ms=20']);
  const before = await fakeStats(d);
  const words = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');
  const stream = client().messages.stream({ model: 'auto', max_tokens: 64, messages: [{ role: 'user', content: words }] });
  await new Promise((resolve) => stream.on('text', () => resolve()));
  stream.abort();
  await assert.rejects(stream.finalMessage());
  const closed = (s) => s.anthropic?.streams_client_closed ?? 0;
  await eventually(async () => closed(await fakeStats(d)) > closed(before), 5000, 'the provider stream closed by tollgated');
  await d.faults([]);
  const charged = await eventually(async () => {
    const u = await d.status('ai/research');
    return u.providers.anthropic.reserved === 0 && u.providers.anthropic;
  }, 5000, 'the cut call settled');
  assert.ok(charged.used > 0);
});

test('a body over TOLLGATE_MAX_REQUEST_BYTES is refused as ContentTooLargeError', async () => {
  const big = 'x'.repeat(1100 * 1024);
  await assert.rejects(client().messages.create({ model: 'auto', max_tokens: 16, messages: [{ role: 'user', content: big }] }),
                       (e) => e instanceof Anthropic.ContentTooLargeError && e.status === 413);
});

test('calls beyond TOLLGATE_HTTP_MAX_CALLS are refused at once as OverloadedError', async () => {
  const small = await startDaemon({ env: { TOLLGATE_HTTP_MAX_CALLS: '1' }, faults: ['anthropic:delay_ms=400:times=1'] });
  try {
    const c = new Anthropic({ baseURL: small.base, apiKey: keys.research, maxRetries: 0 });
    const body = { model: 'auto', max_tokens: 16, messages: [{ role: 'user', content: 'slow one' }] };
    const first = c.messages.create(body);
    // The first call holds the one slot once it has reserved its budget.
    await eventually(async () => (await small.status('ai/research')).providers?.anthropic?.reserved > 0,
                     5000, 'the first call in flight');
    await assert.rejects(c.messages.create(body), (e) => e instanceof Anthropic.OverloadedError && e.status === 529);
    assert.equal((await first).content[0].text, 'echo: slow one');
  } finally {
    await small.stop();
  }
});

test('a client gone while the provider is silent is noticed by the pings and its call cancelled', async () => {
  await d.faults(['anthropic:stream_stall_after=4:stall_ms=60000']);
  const before = (await d.status('ai/research')).providers.anthropic.requests;
  const stream = client().messages.stream({ model: 'auto', max_tokens: 64, messages: [{ role: 'user', content: 'stall after this' }] });
  await new Promise((resolve) => stream.on('text', () => resolve()));
  stream.abort();
  await assert.rejects(stream.finalMessage());
  // The provider says nothing for 60 s: only the cancel settles the call
  // (charged as a cut stream: its input and the whole output bound) before.
  const settled = await eventually(async () => {
    const u = (await d.status('ai/research')).providers.anthropic;
    return u.requests === before + 1 && u.reserved === 0 && u;
  }, 8000, 'the call cancelled while its provider is silent');
  assert.ok(settled.used > 0);
  await d.faults([]);
});
