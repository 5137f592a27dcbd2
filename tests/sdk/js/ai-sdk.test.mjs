// molts through the Vercel AI SDK (`ai` with `@ai-sdk/openai`), unmodified: `openai('demo-text')`
// is its default OpenAI provider, which calls the Responses API (`POST /v1/responses`). Every
// request the provider sends is recorded, so the suite also proves which route was used.
// Run with `node --test` by scripts/sdk-tests.sh, beside the OpenAI SDK suite.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText } from 'ai';

import { BASE, newTier, register, setTier, usedThisMonth } from './molts.mjs';

const PROMPT = 'Tell me about lighthouses';

let key;
let sent;
let openai;

before(async () => {
  const agent = await register();
  await setTier(agent.agent_id, await newTier({ text_token: { month: 1_000_000 } }));
  key = agent.api_key;
  sent = [];
  openai = createOpenAI({
    baseURL: `${BASE}/v1`,
    apiKey: key,
    fetch: (url, init) => {
      sent.push(new URL(url).pathname);
      return fetch(url, init);
    },
  });
});

describe('Vercel AI SDK', () => {
  test('generateText answers through /v1/responses with usage that is charged', async () => {
    sent.length = 0;
    const before = await usedThisMonth(key, 'text_token');
    const result = await generateText({
      model: openai('demo-text'),
      system: 'be brief',
      prompt: PROMPT,
    });
    assert.deepEqual(sent, ['/v1/responses']);
    assert.ok(result.text.includes(PROMPT), result.text);
    assert.equal(result.finishReason, 'stop');
    assert.match(result.response.id, /^resp_/);
    assert.equal(result.response.modelId, 'demo-text');
    const { inputTokens, outputTokens, totalTokens } = result.usage;
    assert.ok(inputTokens > 0 && outputTokens > 0, JSON.stringify(result.usage));
    assert.equal(totalTokens, inputTokens + outputTokens);
    assert.equal((await usedThisMonth(key, 'text_token')) - before, totalTokens);
  });

  test('a cap on output tokens ends as length', async () => {
    const result = await generateText({
      model: openai('demo-text'),
      prompt: PROMPT,
      maxOutputTokens: 4,
    });
    assert.equal(result.finishReason, 'length');
    assert.ok(result.text.length > 0 && result.text.length <= 16, result.text);
  });

  test('streamText streams the same text, then the usage and finish reason', async () => {
    const plain = await generateText({ model: openai('demo-text'), prompt: PROMPT });
    sent.length = 0;
    const errors = [];
    const result = streamText({
      model: openai('demo-text'),
      prompt: PROMPT,
      onError: ({ error }) => errors.push(error),
    });
    const deltas = [];
    for await (const delta of result.textStream) deltas.push(delta);
    assert.deepEqual(errors, []);
    assert.deepEqual(sent, ['/v1/responses']);
    assert.ok(deltas.length > 2, 'expected the reply in several deltas');
    assert.equal(deltas.join(''), plain.text);
    assert.equal(await result.finishReason, 'stop');
    const usage = await result.usage;
    assert.equal(usage.totalTokens, plain.usage.totalTokens);
  });

  test('a refused request is an error the SDK reports', async () => {
    const agent = await register();
    await setTier(agent.agent_id, await newTier({ text_token: { month: 1 } }));
    const exhausted = createOpenAI({ baseURL: `${BASE}/v1`, apiKey: agent.api_key });
    await assert.rejects(
      generateText({ model: exhausted('demo-text'), prompt: PROMPT, maxRetries: 0 }),
      (err) => {
        assert.equal(err.statusCode, 429, String(err));
        assert.match(err.responseBody, /quota_exceeded/);
        return true;
      },
    );
  });
});
