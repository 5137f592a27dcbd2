// molts through the official OpenAI JavaScript SDK, unmodified.
//
// Reads MOLTS_BASE_URL (e.g. http://127.0.0.1:8787, no /v1) and MOLTS_ADMIN_TOKEN (the operator
// token) from the environment, registers its own agents, and points `new OpenAI()` at
// `$MOLTS_BASE_URL/v1` with an agent key. Only the offline demo models are used. Run with
// `node --test` by scripts/sdk-tests.sh, from a directory where `npm ci` installed package.json.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import OpenAI from 'openai';

import { ADMIN_TOKEN, BASE, call, newTier, register, setTier, unique, usedThisMonth } from './molts.mjs';

const PROMPT = [
  { role: 'system', content: 'be brief' },
  { role: 'user', content: 'Tell me about lighthouses' },
];

const sdk = (apiKey, options = {}) => new OpenAI({ baseURL: `${BASE}/v1`, apiKey, ...options });

let client;
let plain;

before(async () => {
  const agent = await register();
  const tier = await newTier({
    text_token: { month: 1_000_000 },
    image: { month: 1000 },
    audio_second: { month: 10_000 },
  });
  await setTier(agent.agent_id, tier);
  client = sdk(agent.api_key);
  plain = await client.chat.completions.create({ model: 'demo-text', messages: PROMPT });
});

describe('chat completions', () => {
  test('a plain completion has content, usage and finish_reason', () => {
    assert.equal(plain.object, 'chat.completion');
    assert.match(plain.id, /^chatcmpl-/);
    assert.equal(plain.model, 'demo-text');
    assert.equal(plain.choices.length, 1);
    const [choice] = plain.choices;
    assert.equal(choice.index, 0);
    assert.equal(choice.finish_reason, 'stop');
    assert.equal(choice.message.role, 'assistant');
    assert.ok(choice.message.content.includes('Tell me about lighthouses'), choice.message.content);
    const { usage } = plain;
    assert.ok(usage.prompt_tokens > 0 && usage.completion_tokens > 0);
    assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  });

  test('streamed chunks reassemble the plain reply', async () => {
    const stream = await client.chat.completions.create({
      model: 'demo-text',
      messages: PROMPT,
      stream: true,
    });
    let text = '';
    let finish = null;
    let chunks = 0;
    const ids = new Set();
    for await (const chunk of stream) {
      chunks += 1;
      assert.equal(chunk.object, 'chat.completion.chunk');
      assert.ok(chunk.usage == null, 'usage without stream_options.include_usage');
      ids.add(chunk.id);
      for (const choice of chunk.choices) {
        text += choice.delta.content ?? '';
        finish = choice.finish_reason ?? finish;
      }
    }
    assert.ok(chunks > 2, 'expected the reply in several chunks');
    assert.equal(ids.size, 1);
    assert.match([...ids][0], /^chatcmpl-/);
    assert.equal(text, plain.choices[0].message.content);
    assert.equal(finish, 'stop');
  });

  test('with include_usage the last chunk carries the usage', async () => {
    const stream = await client.chat.completions.create({
      model: 'demo-text',
      messages: PROMPT,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.deepEqual(last.usage, plain.usage);
    assert.ok(chunks.slice(0, -1).every((c) => c.usage == null));
    const text = chunks.flatMap((c) => c.choices.map((ch) => ch.delta.content ?? '')).join('');
    assert.equal(text, plain.choices[0].message.content);
  });

  test('the stream helper accumulates the final completion', async () => {
    const runner = client.chat.completions.stream({ model: 'demo-text', messages: PROMPT });
    let deltas = '';
    runner.on('content', (delta) => {
      deltas += delta;
    });
    const final = await runner.finalChatCompletion();
    assert.equal(deltas, plain.choices[0].message.content);
    assert.equal(final.choices[0].message.content, plain.choices[0].message.content);
    assert.equal(final.choices[0].finish_reason, 'stop');
    assert.equal(await runner.finalContent(), plain.choices[0].message.content);
  });
});

describe('responses', () => {
  const INPUT = 'Tell me about lighthouses';

  test('responses.create answers one completed message with usage', async () => {
    const response = await client.responses.create({
      model: 'demo-text',
      instructions: 'be brief',
      input: INPUT,
      metadata: { suite: 'js' },
    });
    assert.equal(response.object, 'response');
    assert.match(response.id, /^resp_/);
    assert.equal(response.status, 'completed');
    assert.equal(response.model, 'demo-text');
    assert.deepEqual(response.metadata, { suite: 'js' });
    assert.equal(response.output.length, 1);
    const [message] = response.output;
    assert.equal(message.type, 'message');
    assert.equal(message.role, 'assistant');
    assert.match(message.id, /^msg_/);
    // The SDK's own convenience property, read from output[].content[].
    assert.ok(response.output_text.includes(INPUT), response.output_text);
    const { usage } = response;
    assert.ok(usage.input_tokens > 0 && usage.output_tokens > 0);
    assert.equal(usage.total_tokens, usage.input_tokens + usage.output_tokens);
  });

  test('a streamed response is the documented event sequence', async () => {
    const plainResponse = await client.responses.create({ model: 'demo-text', input: INPUT });
    const stream = await client.responses.create({ model: 'demo-text', input: INPUT, stream: true });
    const types = [];
    let text = '';
    let completed = null;
    for await (const event of stream) {
      assert.equal(event.sequence_number, types.length);
      types.push(event.type);
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response;
    }
    const head = types.slice(0, 4);
    assert.deepEqual(head, [
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
    ]);
    assert.deepEqual(types.slice(-4), [
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    assert.ok(types.slice(4, -4).every((t) => t === 'response.output_text.delta'));
    assert.equal(text, plainResponse.output_text);
    assert.ok(completed, 'no response.completed');
    assert.equal(completed.status, 'completed');
    assert.deepEqual(completed.usage, plainResponse.usage);
  });

  test('the stream helper accumulates the final response', async () => {
    const stream = client.responses.stream({ model: 'demo-text', input: INPUT });
    let deltas = '';
    stream.on('response.output_text.delta', (event) => {
      deltas += event.delta;
    });
    const final = await stream.finalResponse();
    assert.equal(final.status, 'completed');
    // This SDK version adds `output_text` only to responses.create's answer, not here.
    assert.equal(final.output[0].content[0].text, deltas);
    assert.ok(deltas.includes(INPUT), deltas);
  });

  test('previous_response_id is a BadRequestError naming it', async () => {
    await assert.rejects(
      client.responses.create({ model: 'demo-text', input: INPUT, previous_response_id: 'resp_1' }),
      (err) => {
        assert.ok(err instanceof OpenAI.BadRequestError, String(err));
        assert.equal(err.param, 'previous_response_id');
        assert.equal(err.code, 'invalid_value');
        return true;
      },
    );
  });

  test('an exhausted quota is a RateLimitError, plain and streamed', async () => {
    const agent = await register();
    await setTier(agent.agent_id, await newTier({ text_token: { month: 1 } }));
    const exhausted = sdk(agent.api_key);
    for (const stream of [false, true]) {
      await assert.rejects(
        exhausted.responses.create({ model: 'demo-text', input: INPUT, stream }),
        (err) => {
          assert.ok(err instanceof OpenAI.RateLimitError, String(err));
          assert.equal(err.code, 'quota_exceeded');
          assert.equal(err.headers.get('x-should-retry'), 'false');
          return true;
        },
      );
    }
    assert.equal(await usedThisMonth(agent.api_key, 'text_token'), 0);
  });
});

describe('models', () => {
  test('models.list() is what the default instance allows', async () => {
    const ids = [];
    for await (const model of client.models.list()) {
      assert.equal(model.object, 'model');
      assert.equal(typeof model.created, 'number');
      assert.ok(model.owned_by);
      ids.push(model.id);
    }
    for (const demo of ['demo-text', 'demo-image', 'demo-speech']) assert.ok(ids.includes(demo), demo);
    const [status, enabled, text] = await call('GET', '/v1/admin/models?enabled=true', {
      token: ADMIN_TOKEN,
    });
    assert.equal(status, 200, text);
    assert.deepEqual([...ids].sort(), enabled.data.map((m) => m.id).sort());
  });

  test("models.list() follows the instance's allow-list", async () => {
    const instance = unique('inst');
    const allowed = ['demo-speech', 'demo-text'];
    const [status, , text] = await call('POST', '/v1/admin/instances', {
      token: ADMIN_TOKEN,
      body: { id: instance, name: instance, allowed_models: allowed },
    });
    assert.equal(status, 201, text);
    const scoped = sdk((await register(instance)).api_key);
    const page = await scoped.models.list();
    assert.deepEqual(page.data.map((m) => m.id).sort(), allowed);
    await assert.rejects(
      scoped.images.generate({ model: 'demo-image', prompt: 'a lighthouse', size: '64x64' }),
      (err) => err instanceof OpenAI.NotFoundError && err.code === 'model_not_found',
    );
  });
});

describe('images and speech', () => {
  test('images.generate b64_json decodes to a PNG of the size asked', async () => {
    const result = await client.images.generate({
      model: 'demo-image',
      prompt: 'a lighthouse at dusk',
      size: '64x64',
      response_format: 'b64_json',
    });
    assert.equal(typeof result.created, 'number');
    assert.equal(result.data.length, 1);
    const png = Buffer.from(result.data[0].b64_json, 'base64');
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.equal(png.subarray(12, 16).toString('latin1'), 'IHDR');
    assert.equal(png.readUInt32BE(16), 64);
    assert.equal(png.readUInt32BE(20), 64);
  });

  test('audio.speech.create answers RIFF/WAVE bytes', async () => {
    const response = await client.audio.speech.create({
      model: 'demo-speech',
      voice: 'alloy',
      input: 'Hello from the lighthouse.',
      response_format: 'wav',
    });
    assert.match(response.headers.get('content-type'), /^audio\/wav/);
    const audio = Buffer.from(await response.arrayBuffer());
    assert.equal(audio.subarray(0, 4).toString('latin1'), 'RIFF');
    assert.equal(audio.subarray(8, 12).toString('latin1'), 'WAVE');
    assert.equal(audio.readUInt32LE(4), audio.length - 8);
  });
});

describe('errors', () => {
  test('an unknown model is a NotFoundError with code model_not_found', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'no-such-model', messages: PROMPT }),
      (err) => {
        assert.ok(err instanceof OpenAI.NotFoundError, String(err));
        assert.equal(err.status, 404);
        assert.equal(err.code, 'model_not_found');
        assert.equal(err.param, 'model');
        assert.equal(err.type, 'invalid_request_error');
        return true;
      },
    );
  });

  test('a bad key is an AuthenticationError', async () => {
    const bad = sdk(`ml_${'0'.repeat(64)}`);
    await assert.rejects(
      bad.chat.completions.create({ model: 'demo-text', messages: PROMPT }),
      (err) => {
        assert.ok(err instanceof OpenAI.AuthenticationError, String(err));
        assert.equal(err.status, 401);
        assert.equal(err.type, 'authentication_error');
        return true;
      },
    );
    await assert.rejects(bad.models.list(), OpenAI.AuthenticationError);
  });

  test('an exhausted quota is a RateLimitError the SDK does not retry', async () => {
    const agent = await register();
    // One text token a month refuses any completion before work; a generous request rate makes
    // molts count requests in x-ratelimit-remaining, the server's side of "exactly one".
    const tier = await newTier({ text_token: { month: 1 } }, { requests_per_minute: 1000 });
    await setTier(agent.agent_id, tier);
    const sent = [];
    // The default maxRetries (2) is left as it is: the SDK itself must choose not to retry.
    const exhausted = sdk(agent.api_key, {
      fetch: (url, init) => {
        sent.push(new URL(url).pathname);
        return fetch(url, init);
      },
    });
    assert.equal(exhausted.maxRetries, 2);

    const remainingNow = async () => {
      const { response } = await exhausted.models.list().withResponse();
      return [
        Number(response.headers.get('x-ratelimit-remaining')),
        Number(response.headers.get('x-ratelimit-reset')),
      ];
    };

    for (const stream of [false, true]) {
      let [remaining, reset] = await remainingNow();
      if (reset < 5) {
        // Keep both requests inside one one-minute window.
        await new Promise((resolve) => setTimeout(resolve, (reset + 1) * 1000));
        [remaining] = await remainingNow();
      }
      sent.length = 0;
      const started = performance.now();
      await assert.rejects(
        exhausted.chat.completions.create({ model: 'demo-text', messages: PROMPT, stream }),
        (err) => {
          assert.ok(err instanceof OpenAI.RateLimitError, String(err));
          assert.equal(err.status, 429);
          assert.equal(err.code, 'quota_exceeded');
          assert.equal(err.type, 'insufficient_quota');
          assert.equal(err.headers.get('x-should-retry'), 'false');
          const after = Number(err.headers.get('x-ratelimit-remaining'));
          assert.equal(remaining - after, 1, `molts counted ${remaining - after} requests`);
          return true;
        },
      );
      assert.deepEqual(sent, ['/v1/chat/completions'], `the SDK sent ${sent}`);
      // A retry would have slept at least ~0.4 s first; allow for a slow machine anyway.
      assert.ok(performance.now() - started < 5000);
    }
    assert.equal(await usedThisMonth(agent.api_key, 'text_token'), 0);
  });
});
