// The connection pools' limits: MADBASE_DB_POOL_MAX_IDLETIME (a project nobody calls holds no
// PostgreSQL backends beyond its schema listener) and MADBASE_DB_POOL_ACQUISITION_TIMEOUT (a
// request that cannot get a connection in time is 504 PGRST003), and the reload channel
// (MADBASE_DB_CHANNEL). Runs its own `madbase dev` with one connection per pool, a one-second
// idle time and a one-second wait, listening on `pool_reloads`.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createClient } from '@supabase/supabase-js';
import { startDev } from './harness.mjs';

let dev;
let db;

before(async () => {
  dev = await startDev({
    env: {
      MADBASE_DB_POOL_SIZE: '1',
      MADBASE_DB_POOL_MAX_IDLETIME: '1',
      MADBASE_DB_POOL_ACQUISITION_TIMEOUT: '1',
      MADBASE_DB_CHANNEL: 'pool_reloads',
    },
  });
  db = new pg.Client({ connectionString: dev.dbUrl });
  await db.connect();
  await db.query(`
    CREATE TABLE public.pool_items (id serial PRIMARY KEY, name text);
    GRANT SELECT, INSERT ON public.pool_items TO anon;
    GRANT USAGE ON SEQUENCE public.pool_items_id_seq TO anon;
    CREATE FUNCTION public.pool_nap(s float8) RETURNS int LANGUAGE sql VOLATILE AS 'SELECT 1 FROM pg_sleep(s)';
  `);
});

test('reloads come on the configured channel only', async () => {
  const sb = createClient(dev.url, dev.anonKey, { auth: { persistSession: false } });
  // The DDL trigger's NOTIFY pgrst is not heard here: the table stays unknown.
  await new Promise((r) => setTimeout(r, 700));
  assert.equal((await sb.from('pool_items').select('id')).error?.code, 'PGRST205');
  await db.query(`NOTIFY pgrst, 'reload schema'`);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await sb.from('pool_items').select('id')).error?.code, 'PGRST205');
  await db.query(`NOTIFY pool_reloads, 'reload schema'`);
  const deadline = Date.now() + 10_000;
  while ((await sb.from('pool_items').select('id')).error) {
    assert.ok(Date.now() < deadline, 'reloaded on pool_reloads');
    await new Promise((r) => setTimeout(r, 100));
  }
});

after(async () => {
  await db?.end();
  await dev?.stop();
});

async function backends() {
  const { rows } = await db.query(
    `SELECT application_name AS app, count(*)::int AS n FROM pg_stat_activity
     WHERE application_name IN ('madbase', 'madbase rest') GROUP BY 1`,
  );
  return Object.fromEntries(rows.map((r) => [r.app, r.n]));
}

test('idle connections are closed, and the next request opens what it needs', async () => {
  const sb = createClient(dev.url, dev.anonKey, { auth: { persistSession: false } });
  // Data API reads and writes (lanes and pool) and auth (the main pool), several at once.
  const deadline = Date.now() + 10_000;
  while ((await sb.from('pool_items').select('id')).error) {
    assert.ok(Date.now() < deadline, 'pool_items in the schema cache');
    await new Promise((r) => setTimeout(r, 100));
  }
  await Promise.all([
    ...Array.from({ length: 6 }, () => sb.from('pool_items').select('id')),
    ...Array.from({ length: 3 }, (_, i) => sb.from('pool_items').insert({ name: `n${i}` })),
    ...Array.from({ length: 3 }, () => sb.auth.signInAnonymously()),
  ]);
  const busy = await backends();
  assert.ok((busy['madbase rest'] ?? 0) >= 1, JSON.stringify(busy));
  assert.ok((busy.madbase ?? 0) >= 1, JSON.stringify(busy));

  const idleBy = Date.now() + 10_000;
  let now = busy;
  while (Object.keys(now).length && Date.now() < idleBy) {
    await new Promise((r) => setTimeout(r, 250));
    now = await backends();
  }
  assert.deepEqual(now, {}, 'every pooled connection closed once idle');

  const { error } = await sb.auth.signInAnonymously();
  assert.equal(error, null);
  const again = await sb.from('pool_items').select('name').order('id');
  assert.equal(again.error, null);
  assert.equal(again.data.length, 3);
});

test('a request that waits too long for a connection is 504 PGRST003', async () => {
  const sb = createClient(dev.url, dev.anonKey, { auth: { persistSession: false } });
  while ((await sb.rpc('pool_nap', { s: 0 })).error) await new Promise((r) => setTimeout(r, 100));
  // The pool's one connection is busy for 2 s; the next call waits 1 s, then gives up.
  // (A query builder runs when awaited: `then` sends it now.)
  const long = sb.rpc('pool_nap', { s: 2 }).then((r) => r);
  await new Promise((r) => setTimeout(r, 300));
  const started = Date.now();
  const { error, status } = await sb.rpc('pool_nap', { s: 0 });
  const waited = Date.now() - started;
  assert.equal(status, 504);
  assert.equal(error.code, 'PGRST003');
  assert.equal(error.message, 'Timed out acquiring connection from connection pool.');
  assert.ok(waited >= 900 && waited < 1900, `waited ${waited} ms`);
  assert.equal((await long).data, 1);
});
