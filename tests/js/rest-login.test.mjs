// The data API logged in as a superuser (MADBASE_DB_API_USER=postgres), which PostgreSQL lets
// switch to any role: the data plane keeps refusing a token whose role authenticator could not
// switch to, as it does when no API login is set. Runs its own `madbase dev`.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startDev } from './harness.mjs';
import { signHs256 } from './auth-helpers.mjs';

let dev;

before(async () => {
  dev = await startDev({ env: { MADBASE_DB_API_USER: 'postgres' } });
  const db = new pg.Client({ connectionString: dev.dbUrl });
  await db.connect();
  await db.query(`
    CREATE TABLE public.login_secrets (id int PRIMARY KEY);
    INSERT INTO public.login_secrets VALUES (1);
    NOTIFY pgrst, 'reload schema';
  `);
  await db.end();
});

after(async () => {
  await dev?.stop();
});

test('a superuser API login keeps the role guard: a token naming postgres is refused', async () => {
  const now = Math.floor(Date.now() / 1000);
  const as = (role) =>
    fetch(`${dev.url}/rest/v1/login_secrets?select=id`, {
      headers: { apikey: dev.anonKey, authorization: `Bearer ${signHs256({ role, exp: now + 60 }, dev.jwtSecret)}` },
    });
  let res;
  for (const deadline = Date.now() + 20_000; ; ) {
    res = await as('postgres');
    if (res.status !== 404 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(res.status, 403, dev.log());
  assert.deepEqual(await res.json(), { code: '42501', details: null, hint: null, message: 'permission denied to set role "postgres"' });
  // The API roles still work (Supabase's default privileges grant new tables to them).
  assert.equal((await as('anon')).status, 200);
  const sessions = new pg.Client({ connectionString: dev.dbUrl });
  await sessions.connect();
  try {
    const logins = await sessions.query(`SELECT DISTINCT usename::text AS login FROM pg_stat_activity WHERE application_name = 'madbase rest'`);
    assert.deepEqual(logins.rows.map((r) => r.login), ['postgres']);
  } finally {
    await sessions.end();
  }
});
