// RPC through supabase-js: scalar, SETOF, TABLE, void, volatile, JSON and variadic functions,
// with POST, GET and HEAD, counts, filters on set results, and the function errors.

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '@supabase/supabase-js';
import { anon, createFixture, mb, rest, service, userClient, waitForSchema } from './rest-fixture.mjs';
import { sql } from './harness.mjs';

before(createFixture);

test('a scalar function returns a bare value, by POST and by GET', async () => {
  const post = await anon.rpc('js_rest_add', { a: 1, b: 2 });
  assert.equal(post.error, null, JSON.stringify(post.error));
  assert.equal(post.status, 200);
  assert.equal(post.data, 3);
  const get = await anon.rpc('js_rest_add', { a: 40, b: 2 }, { get: true });
  assert.equal(get.data, 42);
  const raw = await rest('/rpc/js_rest_add?a=1&b=1');
  assert.equal(await raw.text(), '2');
  // As PostgREST, every call answers with a Content-Range, one value being 0-0.
  assert.equal(raw.headers.get('content-range'), '0-0/*');
});

test('a SETOF function takes select, filters, order, limit and count', async () => {
  const all = await anon.rpc('js_rest_users_by_status', { s: 'away' }).select('username');
  assert.deepEqual(all.data, [{ username: 'brian' }, { username: 'eve smith' }]);
  const filtered = await anon
    .rpc('js_rest_users_by_status', { s: 'away' })
    .select('id')
    .gt('age', 45);
  assert.deepEqual(filtered.data, [{ id: 5 }]);
  const ordered = await anon
    .rpc('js_rest_users_by_status', { s: 'online' })
    .select('id, js_rest_cities(name)')
    .order('id', { ascending: false })
    .limit(1);
  assert.deepEqual(ordered.data, [{ id: 4, js_rest_cities: { name: 'Santiago' } }]);
  const counted = await anon.rpc('js_rest_users_by_status', { s: 'away' }, { count: 'exact' });
  assert.equal(counted.count, 2);
  assert.equal(counted.data.length, 2);
  const single = await anon.rpc('js_rest_users_by_status', { s: 'offline' }).select('username').single();
  assert.deepEqual(single.data, { username: 'chloe' });
});

test('head and get with count', async () => {
  const head = await anon.rpc('js_rest_users_by_status', { s: 'online' }, { head: true, count: 'exact' });
  assert.equal(head.error, null, JSON.stringify(head.error));
  assert.equal(head.data, null);
  assert.equal(head.count, 2);
  const get = await anon.rpc('js_rest_users_by_status', { s: 'online' }, { get: true, count: 'exact' });
  assert.equal(get.count, 2);
  assert.equal(get.data.length, 2);
});

test('a RETURNS TABLE function returns rows', async () => {
  const { data, error } = await anon.rpc('js_rest_status_counts');
  assert.equal(error, null, JSON.stringify(error));
  assert.deepEqual(data, [
    { status: 'online', n: 2 },
    { status: 'away', n: 2 },
    { status: 'offline', n: 1 },
  ]);
});

test('a void function answers 204 with no body', async () => {
  const client = await anon.rpc('js_rest_noop');
  assert.equal(client.error, null, JSON.stringify(client.error));
  assert.equal(client.status, 204);
  assert.equal(client.data, null);
  const raw = await rest('/rpc/js_rest_noop', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(raw.status, 204);
  assert.equal(await raw.text(), '');
});

test('a volatile function writes on POST and is refused read-only on GET (405 25006)', async () => {
  await sql("INSERT INTO js_rest_items (id, name, qty) VALUES (500, 'bump', 1)");
  const post = await anon.rpc('js_rest_bump', { item: 500 });
  assert.equal(post.error, null, JSON.stringify(post.error));
  assert.equal(post.data, 2);
  const get = await anon.rpc('js_rest_bump', { item: 500 }, { get: true });
  assert.equal(get.status, 405);
  assert.equal(get.error.code, '25006');
  assert.match(get.error.message, /read-only transaction/);
  const { rows } = await sql('SELECT qty FROM js_rest_items WHERE id = 500');
  assert.equal(rows[0].qty, 2);
});

test('JSON arguments: a named jsonb parameter, and a single unnamed json parameter taking the body', async () => {
  const named = await anon.rpc('js_rest_echo', { payload: { x: [1, 2], y: { z: null } } });
  assert.equal(named.error, null, JSON.stringify(named.error));
  assert.deepEqual(named.data, { got: { x: [1, 2], y: { z: null } } });
  const whole = await anon.rpc('js_rest_single_json', { any: 'thing', n: 1 });
  assert.equal(whole.error, null, JSON.stringify(whole.error));
  assert.deepEqual(whole.data, { whole: { any: 'thing', n: 1 } });
  // A named parameter is not handed the whole body (PostgREST 14): other keys are PGRST202.
  const other = await anon.rpc('js_rest_echo', { x: [1, 2] });
  assert.equal(other.status, 404);
  assert.equal(other.data, null);
  assert.equal(other.error.code, 'PGRST202');
  assert.equal(other.error.message, 'Could not find the function public.js_rest_echo(x) in the schema cache');
});

test('a variadic function: an array by POST, repeated or single parameters by GET', async () => {
  const post = await anon.rpc('js_rest_sum', { nums: [1, 2, 3] });
  assert.equal(post.error, null, JSON.stringify(post.error));
  assert.equal(post.data, 6);
  // By GET each value of a variadic parameter is one element, as in PostgREST.
  const get = await anon.rpc('js_rest_sum', { nums: 4 }, { get: true });
  assert.equal(get.data, 4);
  const repeated = await rest('/rpc/js_rest_sum?nums=1&nums=2&nums=10');
  assert.equal(repeated.status, 200);
  assert.equal(await repeated.json(), 13);
});

test('functions run as the caller, with the request settings', async () => {
  const a = await anon.rpc('js_rest_whoami');
  assert.deepEqual(a.data, { role: 'anon', sub: null, method: 'POST', trace: null });
  const user = userClient();
  const u = await user.client.rpc('js_rest_whoami', {}, { get: true });
  assert.deepEqual(u.data, { role: 'authenticated', sub: user.sub, method: 'GET', trace: null });
  const s = await service.rpc('js_rest_whoami');
  assert.equal(s.data.role, 'service_role');
});

test('a RAISE surfaces code, message, details and hint as a 400', async () => {
  const { error, status, data } = await anon.rpc('js_rest_fail', { msg: 'it broke' });
  assert.equal(status, 400);
  assert.equal(data, null);
  assert.deepEqual(error, { code: 'P0001', message: 'it broke', details: 'the detail', hint: 'the hint' });
});

test('a 503 on a read is retried at once, as Retry-After: 0 asks; writes and .retry(false) are not', async () => {
  await sql(`
    CREATE OR REPLACE FUNCTION public.js_rest_busy(msg text) RETURNS int LANGUAGE plpgsql STABLE AS $$
    BEGIN RAISE SQLSTATE 'PT503' USING MESSAGE = msg; END $$;
    GRANT EXECUTE ON FUNCTION public.js_rest_busy(text) TO anon;
  `);
  await waitForSchema(true, 'js_rest_items', 'js_rest_busy');
  const raw = await rest('/rpc/js_rest_busy?msg=Busy');
  assert.equal(raw.status, 503);
  assert.equal(raw.headers.get('retry-after'), '0');
  // postgrest-js retries GET and HEAD on 503 up to three times, waiting what Retry-After says
  // (without it 1, 2 then 4 s), and numbers each retry in X-Retry-Count.
  const attempts = [];
  const client = createClient(mb.url, mb.anonKey, {
    auth: { persistSession: false },
    global: {
      fetch: (url, init) => {
        attempts.push(new Headers(init?.headers).get('x-retry-count'));
        return fetch(url, init);
      },
    },
  });
  const read = await client.rpc('js_rest_busy', { msg: 'Busy' }, { get: true });
  assert.equal(read.status, 503);
  assert.deepEqual(read.error, { code: 'PT503', message: 'Busy', details: null, hint: null });
  assert.deepEqual(attempts, [null, '1', '2', '3']);
  attempts.length = 0;
  const once = await client.rpc('js_rest_busy', { msg: 'Busy' }, { get: true }).retry(false);
  assert.equal(once.status, 503);
  assert.deepEqual(attempts, [null]);
  attempts.length = 0;
  const post = await client.rpc('js_rest_busy', { msg: 'Busy' });
  assert.equal(post.status, 503);
  assert.deepEqual(attempts, [null]);
});

test('custom statuses keep the reason phrase PostgREST writes on the status line', async () => {
  await sql(`
    CREATE OR REPLACE FUNCTION public.js_rest_pay(msg text) RETURNS int LANGUAGE plpgsql AS $$
    BEGIN RAISE SQLSTATE 'PT402' USING MESSAGE = 'Payment Required Now', DETAIL = 'Quota', HINT = 'Upgrade'; END $$;
    CREATE OR REPLACE FUNCTION public.js_rest_teapot(msg text) RETURNS int LANGUAGE plpgsql AS $$
    BEGIN RAISE SQLSTATE 'PGRST' USING
      MESSAGE = '{"code":"T418","message":"no coffee"}',
      DETAIL = json_build_object('status', 418, 'status_text', msg, 'headers', '{}'::json)::text;
    END $$;
    GRANT EXECUTE ON FUNCTION public.js_rest_pay(text), public.js_rest_teapot(text) TO anon;
  `);
  await waitForSchema(true, 'js_rest_items', 'js_rest_teapot');
  const pay = await anon.rpc('js_rest_pay', { msg: 'x' });
  assert.equal(pay.status, 402);
  assert.equal(pay.statusText, 'Payment Required Now');
  assert.deepEqual(pay.error, { code: 'PT402', message: 'Payment Required Now', details: 'Quota', hint: 'Upgrade' });
  const teapot = await anon.rpc('js_rest_teapot', { msg: 'Short And Stout' });
  assert.equal(teapot.status, 418);
  assert.equal(teapot.statusText, 'Short And Stout');
  assert.deepEqual(teapot.error, { code: 'T418', message: 'no coffee', details: null, hint: null });
  // Without status_text the status's usual phrase; status_text must be text when given.
  await sql(`
    CREATE OR REPLACE FUNCTION public.js_rest_teapot(msg text) RETURNS int LANGUAGE plpgsql AS $$
    BEGIN RAISE SQLSTATE 'PGRST' USING
      MESSAGE = '{"code":"T404","message":"gone"}',
      DETAIL = CASE WHEN msg = 'plain' THEN '{"status":404,"headers":{}}' ELSE '{"status":404,"status_text":7,"headers":{}}' END;
    END $$;
  `);
  await sql(`
    CREATE OR REPLACE FUNCTION public.js_rest_pay(msg text) RETURNS int LANGUAGE plpgsql AS $$
    BEGIN PERFORM set_config('response.status', '332', true); RETURN 1; END $$;
  `);
  await waitForSchema(true, 'js_rest_items', 'js_rest_pay');
  const odd = await anon.rpc('js_rest_pay', { msg: 'x' });
  assert.equal(odd.status, 332);
  assert.equal(odd.statusText, '');
  const plain = await anon.rpc('js_rest_teapot', { msg: 'plain' });
  assert.equal(plain.status, 404);
  assert.equal(plain.statusText, 'Not Found');
  const numeric = await anon.rpc('js_rest_teapot', { msg: 'numeric' });
  assert.equal(numeric.status, 500);
  assert.equal(numeric.error.code, 'PGRST121');
});

test('an unknown function or wrong argument names are 404 PGRST202', async () => {
  const missing = await anon.rpc('js_rest_nope', { a: 1 });
  assert.equal(missing.status, 404);
  assert.equal(missing.error.code, 'PGRST202');
  assert.equal(missing.error.message, 'Could not find the function public.js_rest_nope(a) in the schema cache');
  assert.match(
    missing.error.details,
    /Searched for the function public\.js_rest_nope with parameter a or with a single unnamed json\/jsonb parameter, but no matches were found in the schema cache\./,
  );
  const wrongArgs = await anon.rpc('js_rest_add', { a: 1, c: 2 });
  assert.equal(wrongArgs.status, 404);
  assert.equal(wrongArgs.error.code, 'PGRST202');
  assert.match(wrongArgs.error.hint ?? '', /js_rest_add\(a, b\)/);
});

test('schema(): the default schema explicitly, another exposed schema, and an unexposed one', async () => {
  const pub = await anon.schema('public').rpc('js_rest_add', { a: 2, b: 2 });
  assert.equal(pub.data, 4);
  const other = await anon.schema('graphql_public').from('js_rest_users').select('id');
  assert.equal(other.status, 404);
  assert.equal(other.error.code, 'PGRST205');
  assert.match(other.error.message, /'graphql_public\.js_rest_users'/);
  const bad = await anon.schema('js_rest_hidden').from('js_rest_users').select('id');
  assert.equal(bad.status, 406);
  assert.equal(bad.error.code, 'PGRST106');
  assert.equal(bad.error.message, 'Invalid schema: js_rest_hidden');
  assert.equal(bad.error.hint, 'Only the following schemas are exposed: public, graphql_public');
  const badWrite = await anon.schema('js_rest_hidden').rpc('js_rest_add', { a: 1, b: 1 });
  assert.equal(badWrite.status, 406);
});

test('a text/plain, text/xml or octet-stream body goes whole to the single parameter of that type', async () => {
  const text = await rest('/rpc/js_rest_upper', {
    method: 'POST',
    headers: { 'content-type': 'text/plain; charset=utf-8' },
    body: 'not {json}, just "text"',
  });
  assert.equal(text.status, 200);
  assert.equal(await text.json(), 'NOT {JSON}, JUST "TEXT"');
  const bytes = await rest('/rpc/js_rest_bytes', {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.from([0x00, 0xff, 0x10, 0x80]),
  });
  assert.equal(bytes.status, 200);
  assert.deepEqual(await bytes.json(), { length: 4, hex: '00ff1080' });
  const xml = await rest('/rpc/js_rest_xml_root', {
    method: 'POST',
    headers: { 'content-type': 'text/xml' },
    body: '<note><to>Jane</to></note>',
  });
  assert.equal(xml.status, 200);
  assert.equal(await xml.json(), 'note');
});

test('a form body names the arguments', async () => {
  const res = await rest('/rpc/js_rest_add', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ a: '20', b: '22' }).toString(),
  });
  assert.equal(res.status, 200);
  assert.equal(await res.json(), 42);
});

test('a raw body without a matching function is 404 PGRST202 worded for its type', async () => {
  const res = await rest('/rpc/js_rest_add', {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: '1',
  });
  assert.equal(res.status, 404);
  assert.deepEqual(await res.json(), {
    code: 'PGRST202',
    message: 'Could not find the function public.js_rest_add in the schema cache',
    details: 'Searched for the function public.js_rest_add with a single unnamed text parameter, but no matches were found in the schema cache.',
    hint: null,
  });
});

test('any other content type is 400 PGRST102', async () => {
  const res = await rest('/rpc/js_rest_upper', {
    method: 'POST',
    headers: { 'content-type': 'text/html' },
    body: '<b>x</b>',
  });
  assert.equal(res.status, 400);
  assert.deepEqual(await res.json(), {
    code: 'PGRST102',
    message: 'Content-Type not acceptable: text/html',
    details: null,
    hint: null,
  });
});
