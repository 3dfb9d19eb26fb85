// The gateway as supabase-js and browsers meet it: keys, the 401 shape, CORS, operations.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '@supabase/supabase-js';
import { instance } from './harness.mjs';

const mb = instance();

test('the anon and service_role keys printed by madbase dev are accepted', async () => {
  for (const key of [mb.anonKey, mb.serviceKey]) {
    const res = await fetch(`${mb.url}/rest/v1/`, { headers: { apikey: key } });
    const text = await res.text();
    assert.equal(res.status, 200, `key refused: ${text}`);
    assert.equal(JSON.parse(text).swagger, '2.0');
  }
  const supabase = createClient(mb.url, mb.anonKey);
  const { error, status } = await supabase.from('no_such_table_here').select('*');
  assert.notEqual(status, 401);
  assert.ok(error, 'querying a missing table must fail, but not with 401');
});

test('a missing key gets 401 with the Supabase gateway body', async () => {
  const res = await fetch(`${mb.url}/rest/v1/`);
  assert.equal(res.status, 401);
  assert.match(res.headers.get('content-type'), /application\/json/);
  const body = await res.json();
  assert.equal(body.message, 'No API key found in request');
});

test('a wrong key gets 401 Invalid API key, through supabase-js too', async () => {
  const forged = mb.anonKey.slice(0, -4) + (mb.anonKey.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  for (const key of [forged, 'not-a-key', mb.anonKey.split('.').slice(0, 2).join('.') + '.']) {
    const res = await fetch(`${mb.url}/auth/v1/settings`, { headers: { apikey: key } });
    assert.equal(res.status, 401, key);
    assert.equal((await res.json()).message, 'Invalid API key');
  }
  const supabase = createClient(mb.url, forged);
  const { error, status } = await supabase.from('anything').select('*');
  assert.equal(status, 401);
  assert.ok(error);
});

test('the apikey query parameter is accepted as Supabase accepts it', async () => {
  const res = await fetch(`${mb.url}/rest/v1/?apikey=${mb.anonKey}`);
  assert.equal(res.status, 200);
});

test('CORS preflight lets a browser supabase-js client through', async () => {
  const res = await fetch(`${mb.url}/rest/v1/todos?select=*`, {
    method: 'OPTIONS',
    headers: {
      Origin: 'http://localhost:3000',
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'authorization,apikey,x-client-info,content-type,prefer,accept-profile,x-supabase-api-version',
    },
  });
  assert.ok(res.status === 200 || res.status === 204, `preflight status ${res.status}`);
  // Any origin is allowed as `*`, never with credentials (as Supabase and PostgREST).
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  assert.equal(res.headers.get('access-control-allow-credentials'), null);
  assert.match(res.headers.get('access-control-allow-methods'), /PATCH/);
  const allowed = res.headers.get('access-control-allow-headers').toLowerCase();
  for (const h of ['authorization', 'apikey', 'x-client-info', 'prefer', 'x-supabase-api-version']) {
    assert.ok(allowed.includes(h), `${h} not allowed: ${allowed}`);
  }
  const actual = await fetch(`${mb.url}/rest/v1/`, { headers: { Origin: 'http://localhost:3000', apikey: mb.anonKey } });
  assert.equal(actual.headers.get('access-control-allow-origin'), '*');
  assert.equal(actual.headers.get('access-control-allow-credentials'), null);
  const exposed = actual.headers.get('access-control-expose-headers').toLowerCase();
  for (const h of ['content-range', 'x-supabase-api-version', 'x-total-count', 'link', 'location']) {
    assert.ok(exposed.includes(h), `${h} not exposed`);
  }
});

test('request ids are echoed or generated', async () => {
  const given = await fetch(`${mb.url}/health`, { headers: { 'x-request-id': 'req-abc-123' } });
  assert.equal(given.headers.get('x-request-id'), 'req-abc-123');
  const generated = await fetch(`${mb.url}/health`);
  assert.match(generated.headers.get('x-request-id'), /^[0-9a-f-]{36}$/);
});

test('/health, /ready and /metrics answer', async () => {
  const health = await fetch(`${mb.url}/health`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });
  const ready = await fetch(`${mb.url}/ready`);
  assert.equal(ready.status, 200);
  await fetch(`${mb.url}/rest/v1/`);
  const metrics = await fetch(`${mb.url}/metrics`);
  assert.equal(metrics.status, 200);
  const text = await metrics.text();
  assert.match(text, /madbase_http_requests_total\{project="default",api="rest",status="4xx"\} \d+/);
  assert.match(text, /madbase_http_request_duration_seconds_bucket/);
  assert.match(text, /madbase_db_pool_size\{project="default",pool="main"\} \d+/);
  assert.match(text, /madbase_db_pool_size\{project="default",pool="rest"\} \d+/);
  assert.match(text, /madbase_rest_lane_batches_total\{project="default"\} \d+/);
  assert.match(text, /madbase_rest_lane_reads_total\{project="default"\} \d+/);
  assert.match(text, /process_resident_memory_bytes \d+/);
});

test('APIs not built yet answer 501 with a JSON body', async () => {
  const res = await fetch(`${mb.url}/storage/v1/bucket`, { headers: { apikey: mb.anonKey } });
  if (res.status !== 501) return; // storage has been built since
  const body = await res.json();
  assert.equal(body.error, 'not_implemented');
});

test('unknown routes are JSON 404s', async () => {
  const res = await fetch(`${mb.url}/nope`);
  assert.equal(res.status, 404);
  assert.ok((await res.json()).message);
});

test('a request refused with its body unread says the connection closes', async () => {
  const { request } = await import('node:http');
  const send = (headers, body) =>
    new Promise((resolve, reject) => {
      const req = request(`${mb.url}/rest/v1/anything`, { method: 'POST', headers }, (res) => {
        res.resume();
        res.on('end', () => resolve(res));
      });
      req.on('error', reject);
      req.end(body);
    });
  const body = JSON.stringify({ name: 'x'.repeat(40_000) });
  const refused = await send({ apikey: 'not-a-key', 'content-type': 'application/json' }, body);
  assert.equal(refused.statusCode, 401);
  assert.equal(refused.headers.connection, 'close');
  const bodiless = await send({ apikey: 'not-a-key' }, undefined);
  assert.equal(bodiless.statusCode, 401);
  assert.notEqual(bodiless.headers.connection, 'close');
});
