// Emergency shutdown (SHUTDOWN_ON_EMERGENCY, PROTOCOL.md section 11): once a
// global budget reaches the emergency threshold, both SDKs get a 503 in
// their own error format, raised as their own InternalServerError, and do
// not retry it (x-should-retry: false) even when allowed to; no provider is
// asked.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startDaemon, keys, setLimit, fakeStats, eventually } from './harness.mjs';

let d;
before(async () => { d = await startDaemon({ env: { SHUTDOWN_ON_EMERGENCY: 'true' } }); });
after(async () => { await d.stop(); });

// Calls over HTTP that tollgated answered, whatever their code.
const httpCalls = async () => {
  const metrics = await (await fetch(`${d.base}/metrics`)).text();
  const series = metrics.matchAll(/^tollgate_requests_total\{([^}]*)\} (\d+)$/gm);
  let n = 0;
  for (const [, labels, count] of series) {
    if (labels.includes('op="call"') && labels.includes('transport="http"')) n += Number(count);
  }
  return n;
};

test('calls after an emergency shutdown are refused as 503 by both SDKs without retries', async () => {
  const openai = new OpenAI({ baseURL: `${d.base}/v1`, apiKey: keys.research, maxRetries: 2 });
  const anthropic = new Anthropic({ baseURL: d.base, apiKey: keys.research, maxRetries: 2 });
  const first = await openai.chat.completions.create({
    model: 'anthropic/claude-sonnet-4-5', messages: [{ role: 'user', content: 'spend a little' }],
  });
  const used = first.usage.prompt_tokens + first.usage.completion_tokens;
  // The global Anthropic budget lowered to what is used: 100%, over the
  // emergency threshold, so tollgated shuts calls off.
  await setLimit(d, '*', 'anthropic', used);
  await eventually(async () => (await d.status('emergency-status')).shutdown === true,
                   5000, 'emergency shutdown');
  const served = await fakeStats(d);
  const calls = await httpCalls();

  await assert.rejects(
    openai.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'refused' }] }),
    (e) => e instanceof OpenAI.InternalServerError && e.status === 503 &&
           e.headers.get('x-tollgate-error') === 'emergency_shutdown');
  await assert.rejects(
    anthropic.messages.create({ model: 'auto', max_tokens: 16, messages: [{ role: 'user', content: 'refused' }] }),
    (e) => e instanceof Anthropic.InternalServerError && e.status === 503 &&
           e.error?.type === 'error' && e.error?.error?.type === 'api_error');

  assert.equal(await httpCalls(), calls + 2, 'each SDK sent its call once (no retry)');
  const after = await fakeStats(d);
  assert.equal(after.anthropic.requests + after.openai.requests,
               served.anthropic.requests + served.openai.requests, 'no provider was asked');
});
