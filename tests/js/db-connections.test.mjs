// The data plane's database connections ended by the server (a restart, a failover,
// `pg_terminate_backend`): the next requests get new connections, none fails on a dead one.
// Runs its own `madbase dev` with a small pool, so every connection is warm before the cut.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createClient } from '@supabase/supabase-js';
import { startDev } from './harness.mjs';

let dev;
let db;

before(async () => {
  dev = await startDev({ env: { MADBASE_DB_POOL_SIZE: '3' } });
  db = new pg.Client({ connectionString: dev.dbUrl });
  await db.connect();
  await db.query(`
    CREATE TABLE public.cut_items (id serial PRIMARY KEY, name text);
    GRANT SELECT, INSERT ON public.cut_items TO anon;
    GRANT USAGE ON SEQUENCE public.cut_items_id_seq TO anon;
    CREATE FUNCTION public.cut_add(a int, b int) RETURNS int LANGUAGE sql VOLATILE AS 'SELECT a + b';
  `);
});

after(async () => {
  await db?.end();
  await dev?.stop();
});

test('connections the server ended are replaced before a request fails on them', async () => {
  const sb = createClient(dev.url, dev.anonKey, { auth: { persistSession: false } });
  const deadline = Date.now() + 10_000;
  while ((await sb.rpc('cut_add', { a: 1, b: 1 })).error || (await sb.from('cut_items').select('id')).error) {
    assert.ok(Date.now() < deadline, 'cut_items and cut_add in the schema cache');
    await new Promise((r) => setTimeout(r, 100));
  }
  // Every pooled connection and read lane in use at once, so all are open.
  await Promise.all([
    ...Array.from({ length: 6 }, (_, i) => sb.from('cut_items').insert({ name: `warm${i}` })),
    ...Array.from({ length: 6 }, () => sb.from('cut_items').select('id')),
    ...Array.from({ length: 3 }, () => sb.rpc('cut_add', { a: 1, b: 2 })),
  ]);
  const { rows } = await db.query(
    `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
     WHERE application_name IN ('madbase', 'madbase rest') AND pid <> pg_backend_pid()`,
  );
  assert.ok(rows.length >= 3, `ended ${rows.length} connections`);
  await new Promise((r) => setTimeout(r, 300));

  // Writes and RPC are POSTs, which supabase-js never retries: each must succeed at once.
  for (let i = 0; i < 6; i++) {
    const { error, status } = await sb.from('cut_items').insert({ name: `after${i}` });
    assert.equal(error, null, `insert ${i}: ${JSON.stringify(error)}`);
    assert.equal(status, 201);
  }
  for (let i = 0; i < 3; i++) {
    const { data, error } = await sb.rpc('cut_add', { a: i, b: 1 });
    assert.equal(error, null, `rpc ${i}: ${JSON.stringify(error)}`);
    assert.equal(data, i + 1);
  }
  // Reads without supabase-js's retries on 503.
  for (let i = 0; i < 4; i++) {
    const res = await fetch(`${dev.url}/rest/v1/cut_items?select=id`, { headers: { apikey: dev.anonKey } });
    assert.equal(res.status, 200, `read ${i}: ${await res.text()}`);
  }
  const { error } = await sb.auth.signInAnonymously();
  assert.equal(error, null);
});

test('the schema listener is named, and after losing its connection it catches up', async () => {
  const listener = async () =>
    (await db.query(`SELECT pid FROM pg_stat_activity WHERE application_name = 'madbase listener' AND query LIKE 'LISTEN%'`)).rows;
  const deadline = Date.now() + 10_000;
  let found = await listener();
  while (found.length !== 1) {
    assert.ok(Date.now() < deadline, 'one listener connection, named');
    await new Promise((r) => setTimeout(r, 100));
    found = await listener();
  }
  await db.query('SELECT pg_terminate_backend($1)', [found[0].pid]);
  // Made while the listener is away: its notification is lost, the reload after reconnecting is not.
  await db.query(`CREATE TABLE public.cut_late (id int PRIMARY KEY); GRANT SELECT ON public.cut_late TO anon;`);
  const sb = createClient(dev.url, dev.anonKey, { auth: { persistSession: false } });
  while ((await sb.from('cut_late').select('id')).error) {
    assert.ok(Date.now() < deadline + 10_000, 'cut_late in the schema cache');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal((await listener()).length, 1);
});

test('/ready is 503 while the data API cannot log in, even when the main pool can', async () => {
  const ready = async () => (await fetch(`${dev.url}/ready`)).status;
  assert.equal(await ready(), 200);
  await db.query('ALTER ROLE authenticator NOLOGIN');
  try {
    await db.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'madbase rest'`,
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await ready(), 503);
  } finally {
    await db.query('ALTER ROLE authenticator LOGIN');
  }
  assert.equal(await ready(), 200);
});
