// What the SDK suites share: the server under test from the environment, and molts' own API
// (registration, tiers, usage) called with plain fetch to set up agents and read what they used.
//
// Reads MOLTS_BASE_URL (e.g. http://127.0.0.1:8787, no /v1) and MOLTS_ADMIN_TOKEN (the operator
// token); scripts/sdk-tests.sh sets both.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set (scripts/sdk-tests.sh sets it)`);
  return value;
}

export const BASE = env('MOLTS_BASE_URL').replace(/\/+$/, '');
export const ADMIN_TOKEN = env('MOLTS_ADMIN_TOKEN');

export const unique = (stem) => `sdk-js-${stem}-${randomUUID().slice(0, 10)}`;

/** Calls molts' own API with plain fetch; returns [status, parsed body]. */
export async function call(method, path, { token, body } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${BASE}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return [res.status, text ? JSON.parse(text) : null, text];
}

export async function register(instance) {
  const body = { name: unique('agent') };
  if (instance) body.instance = instance;
  const [status, registered, text] = await call('POST', '/v1/agents/register', { body });
  assert.equal(status, 201, text);
  assert.match(registered.api_key, /^ml_/);
  return registered;
}

export async function newTier(limits, extra = {}) {
  const id = unique('tier');
  const [status, , text] = await call('POST', '/v1/admin/tiers', {
    token: ADMIN_TOKEN,
    body: { id, name: `Tier ${id}`, limits, ...extra },
  });
  assert.equal(status, 201, text);
  return id;
}

export async function setTier(agentId, tier) {
  const [status, agent, text] = await call('PATCH', `/v1/admin/agents/${agentId}`, {
    token: ADMIN_TOKEN,
    body: { tier },
  });
  assert.equal(status, 200, text);
  assert.equal(agent.tier_id, tier);
}

export async function usedThisMonth(key, unit) {
  const [status, usage, text] = await call('GET', '/v1/usage', { token: key });
  assert.equal(status, 200, text);
  const row = usage.units.find((u) => u.unit === unit);
  assert.ok(row, `no ${unit} in ${text}`);
  return row.month.used;
}
