// Whom auth's rate limits count: by default the TCP peer, so a client cannot dodge a limit by
// writing a fresh X-Forwarded-For on each request; with MADBASE_AUTH_RATE_LIMIT_HEADER (a
// trusted proxy in front) the first value of that header, so clients behind one proxy are
// counted apart.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServe } from './auth-provider.mjs';
import { email } from './auth-helpers.mjs';
import { instance } from './harness.mjs';

const mb = instance();
const started = [];

after(async () => {
  for (const s of started) await s.stop();
});

async function serveWith(env) {
  const s = await startServe({ env: { MADBASE_AUTH_RATE_LIMIT_TOKEN: '3', ...env } });
  started.push(s);
  return s;
}

/** A failed password sign-in (it still counts against the /token limit). */
async function signIn(serve, headers = {}) {
  const res = await fetch(`${serve.url}/auth/v1/token?grant_type=password`, {
    method: 'POST',
    headers: { apikey: mb.anonKey, 'content-type': 'application/json', 'x-supabase-api-version': '2024-01-01', ...headers },
    body: JSON.stringify({ email: email('limit'), password: 'wrong-password' }),
  });
  return { status: res.status, code: (await res.json()).code };
}

test('by default the peer address is the key: a spoofed X-Forwarded-For does not reset the limit', async () => {
  const serve = await serveWith({});
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(await signIn(serve, { 'x-forwarded-for': `198.51.100.${i}` }), { status: 400, code: 'invalid_credentials' });
  }
  assert.deepEqual(await signIn(serve, { 'x-forwarded-for': '198.51.100.99' }), { status: 429, code: 'over_request_rate_limit' });
  assert.deepEqual(await signIn(serve, { 'x-real-ip': '198.51.100.98' }), { status: 429, code: 'over_request_rate_limit' });
});

test('with MADBASE_AUTH_RATE_LIMIT_HEADER the trusted header keys the limit, per client', async () => {
  const serve = await serveWith({ MADBASE_AUTH_RATE_LIMIT_HEADER: 'X-Forwarded-For' });
  const alice = { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' };
  for (let i = 0; i < 3; i++) assert.equal((await signIn(serve, alice)).status, 400);
  assert.deepEqual(await signIn(serve, alice), { status: 429, code: 'over_request_rate_limit' });
  // Another client behind the same proxy has its own budget.
  assert.equal((await signIn(serve, { 'x-forwarded-for': '203.0.113.8' })).status, 400);
  // Only the first hop counts: appending hops does not make a new client.
  assert.equal((await signIn(serve, { 'x-forwarded-for': '203.0.113.7, 10.9.9.9' })).status, 429);
});
