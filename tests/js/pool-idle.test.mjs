// MADBASE_DB_POOL_MAX_IDLETIME: a project nobody calls holds no PostgreSQL backends beyond its
// schema listener. Runs its own `madbase dev` with a one-second idle time.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createClient } from '@supabase/supabase-js';
import { startDev } from './harness.mjs';

let dev;
let db;

before(async () => {
  dev = await startDev({ env: { MADBASE_DB_POOL_MAX_IDLETIME: '1' } });
  db = new pg.Client({ connectionString: dev.dbUrl });
  await db.connect();
  await db.query(`
    CREATE TABLE public.pool_items (id serial PRIMARY KEY, name text);
    GRANT SELECT, INSERT ON public.pool_items TO anon;
    GRANT USAGE ON SEQUENCE public.pool_items_id_seq TO anon;
  `);
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
