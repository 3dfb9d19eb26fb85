// The data API's settings read from the database, as PostgREST's in-database configuration:
// `ALTER ROLE … SET pgrst.<key>` and a pre-config function, re-read on
// `NOTIFY pgrst, 'reload config'`. Runs its own `madbase dev`, whose settings it changes.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createClient } from '@supabase/supabase-js';
import { startDev } from './harness.mjs';
import { signHs256 } from './auth-helpers.mjs';

let dev;
let db;

before(async () => {
  // The pre-config function does not exist yet: the data plane starts without it.
  dev = await startDev({ env: { MADBASE_DB_PRE_CONFIG: 'public.cfg_pre_config' } });
  db = new pg.Client({ connectionString: dev.dbUrl });
  await db.connect();
  await db.query(`
    CREATE TABLE public.cfg_items (id int PRIMARY KEY, name text);
    INSERT INTO public.cfg_items VALUES (1, 'one');
    GRANT SELECT ON public.cfg_items TO anon, authenticated;
    CREATE FUNCTION public.cfg_whoami() RETURNS text LANGUAGE sql STABLE AS $$ SELECT current_user::text $$;
  `);
  await until(async () => (await get('/cfg_items')).status === 200, 'the table in the schema cache');
});

after(async () => {
  await db?.end();
  await dev?.stop();
});

async function until(check, what, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${dev.log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function get(path, token) {
  const headers = { apikey: dev.anonKey };
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(`${dev.url}/rest/v1${path}`, { headers });
}

async function reloadConfig() {
  await db.query(`NOTIFY pgrst, 'reload config'`);
}

const token = (claims) =>
  signHs256({ exp: Math.floor(Date.now() / 1000) + 600, ...claims }, dev.jwtSecret);

test('role settings override the environment and are re-read on reload config', async () => {
  let res = await get('/cfg_items');
  assert.equal(res.headers.get('server-timing'), null);
  const verbose = await (await get('/cfg_nope')).json();
  assert.deepEqual(Object.keys(verbose).sort(), ['code', 'details', 'hint', 'message']);

  const sb = createClient(dev.url, dev.anonKey, { auth: { persistSession: false } });
  const off = await sb.from('cfg_items').select('count()');
  assert.equal(off.error?.code, 'PGRST123', JSON.stringify(off));

  // Where Supabase keeps them: on the role its PostgREST logs in as.
  await db.query(`ALTER ROLE authenticator SET pgrst.db_aggregates_enabled = 'true'`);
  await db.query(`DO $$ BEGIN
    EXECUTE format('ALTER ROLE authenticator IN DATABASE %I SET pgrst.client_error_verbosity = %L', current_database(), 'verbose');
  END $$`);
  await db.query(`ALTER ROLE CURRENT_USER SET pgrst.server_timing_enabled = 'true'`);
  // A setting for this database only, which wins over one for every database; the
  // connecting role's win over authenticator's.
  await db.query(`ALTER ROLE CURRENT_USER SET pgrst.client_error_verbosity = 'verbose'`);
  await db.query(`DO $$ BEGIN
    EXECUTE format('ALTER ROLE CURRENT_USER IN DATABASE %I SET pgrst.client_error_verbosity = %L', current_database(), 'minimal');
  END $$`);
  await reloadConfig();
  await until(async () => (await get('/cfg_items')).headers.get('server-timing') !== null, 'Server-Timing');

  res = await get('/cfg_items?select=name');
  assert.deepEqual(await res.json(), [{ name: 'one' }]);
  const metrics = res.headers.get('server-timing').split(', ').map((m) => m.split(';dur=')[0]);
  assert.deepEqual(metrics, ['jwt', 'parse', 'plan', 'transaction', 'response']);
  const minimal = await get('/cfg_nope');
  assert.equal(minimal.status, 404);
  assert.deepEqual(await minimal.json(), {
    code: 'PGRST205',
    message: "Could not find the table 'public.cfg_nope' in the schema cache",
  });
  const on = await sb.from('cfg_items').select('count()');
  assert.deepEqual(on.data, [{ count: 1 }], JSON.stringify(on));
  // supabase-js surfaces the shorter error as it is.
  const { error } = await sb.from('cfg_nope').select();
  assert.equal(error.code, 'PGRST205');
  assert.equal(error.hint, undefined);
});

test('a bad value keeps the running settings, and unknown names are logged without values', async () => {
  await db.query(`ALTER ROLE CURRENT_USER SET pgrst.db_tx_end = 'sometimes'`);
  await db.query(`ALTER ROLE CURRENT_USER SET pgrst.jwt_secret = 'cfg-secret-never-logged'`);
  await reloadConfig();
  await until(async () => dev.log().includes('pgrst.db_tx_end must be'), 'the refused reload in the log');
  assert.match(dev.log(), /pgrst\.jwt_secret/);
  assert.doesNotMatch(dev.log(), /cfg-secret-never-logged/);
  // Still the settings from before the bad reload.
  assert.notEqual((await get('/cfg_items')).headers.get('server-timing'), null);
  await db.query(`ALTER ROLE CURRENT_USER RESET pgrst.db_tx_end`);
  await db.query(`ALTER ROLE CURRENT_USER RESET pgrst.jwt_secret`);
});

test('the audience and the role claim key, from the pre-config function and role settings', async () => {
  await db.query(`CREATE FUNCTION public.cfg_pre_config() RETURNS void LANGUAGE plpgsql AS $$ BEGIN
    PERFORM set_config('pgrst.jwt_aud', 'cfg-app', true);
    PERFORM set_config('pgrst.jwt_role_claim_key', '.app_metadata.role', true);
  END $$`);
  await reloadConfig();
  const supabaseUser = token({ aud: 'authenticated', role: 'authenticated', sub: 'u1' });
  await until(async () => (await get('/rpc/cfg_whoami', supabaseUser)).status === 401, 'jwt_aud');
  const refused = await get('/rpc/cfg_whoami', supabaseUser);
  assert.deepEqual(await refused.json(), {
    code: 'PGRST303',
    message: 'JWT not in audience',
    // Role settings for this database still make errors minimal.
  });
  assert.match(refused.headers.get('www-authenticate'), /JWT not in audience/);

  // The role comes from app_metadata.role; the top-level role claim no longer counts.
  let res = await get('/rpc/cfg_whoami', token({ aud: 'cfg-app', role: 'anon', app_metadata: { role: 'authenticated' } }));
  assert.equal(await res.json(), 'authenticated');
  res = await get('/rpc/cfg_whoami', token({ aud: ['other', 'cfg-app'], role: 'authenticated' }));
  assert.equal(await res.json(), 'anon');
  // The anon key has no audience and still works.
  res = await get('/rpc/cfg_whoami');
  assert.equal(await res.json(), 'anon');

  // A role setting wins over what the pre-config function sets.
  await db.query(`ALTER ROLE CURRENT_USER SET pgrst.jwt_aud = 'cfg-role'`);
  await reloadConfig();
  await until(async () => (await get('/rpc/cfg_whoami', token({ aud: 'cfg-app' }))).status === 401, 'the role setting');
  res = await get('/rpc/cfg_whoami', token({ aud: 'cfg-role', app_metadata: { role: 'authenticated' } }));
  assert.equal(await res.json(), 'authenticated');
});

test('reload schema alone leaves the settings as they are', async () => {
  await db.query(`ALTER ROLE CURRENT_USER RESET pgrst.server_timing_enabled`);
  await db.query(`NOTIFY pgrst, 'reload schema'`);
  await new Promise((r) => setTimeout(r, 500));
  assert.notEqual((await get('/cfg_items')).headers.get('server-timing'), null);
  await reloadConfig();
  await until(async () => (await get('/cfg_items')).headers.get('server-timing') === null, 'the reset setting');
});

test('a bearer token is verified once and then served from the JWT cache', async () => {
  const cached = async () => {
    const text = await (await fetch(`${dev.url}/metrics`)).text();
    return Number(text.match(/^madbase_rest_jwt_cache_entries\{[^}]*\} (\d+)$/m)[1]);
  };
  const before = await cached();
  const user = token({ aud: 'cfg-role', app_metadata: { role: 'authenticated' }, sub: 'cache-me' });
  for (let i = 0; i < 3; i++) {
    assert.equal(await (await get('/rpc/cfg_whoami', user)).json(), 'authenticated');
  }
  assert.equal(await cached(), before + 1);
  // A forged signature is refused and never kept; a cached token is still checked each time.
  const forged = `${user.slice(0, user.lastIndexOf('.'))}.${'A'.repeat(43)}`;
  assert.equal((await get('/rpc/cfg_whoami', forged)).status, 401);
  assert.equal(await cached(), before + 1);
  await db.query(`ALTER ROLE CURRENT_USER SET pgrst.jwt_aud = 'another'`);
  await reloadConfig();
  await until(async () => (await get('/rpc/cfg_whoami', user)).status === 401, 'the cached token refused');
});

test('exposed schemas from the database: the schema cache follows them', async () => {
  await db.query(`
    CREATE SCHEMA cfg_api;
    CREATE TABLE cfg_api.notes (id int PRIMARY KEY, body text);
    INSERT INTO cfg_api.notes VALUES (1, 'in cfg_api');
    GRANT USAGE ON SCHEMA cfg_api TO anon;
    GRANT SELECT ON cfg_api.notes TO anon;
  `);
  const sb = createClient(dev.url, dev.anonKey, { auth: { persistSession: false } });
  const before = await sb.schema('cfg_api').from('notes').select('body');
  assert.equal(before.error?.code, 'PGRST106', JSON.stringify(before));

  await db.query(`ALTER ROLE CURRENT_USER SET pgrst.db_schemas = 'public, cfg_api'`);
  await reloadConfig();
  await until(async () => !(await sb.schema('cfg_api').from('notes').select('body')).error, 'cfg_api exposed');
  const { data } = await sb.schema('cfg_api').from('notes').select('body');
  assert.deepEqual(data, [{ body: 'in cfg_api' }]);
  // public is still the default schema.
  assert.equal((await sb.from('cfg_items').select('id')).data.length, 1);
  await db.query(`ALTER ROLE CURRENT_USER RESET pgrst.db_schemas`);
  await reloadConfig();
  await until(async () => (await sb.schema('cfg_api').from('notes').select('body')).error?.code === 'PGRST106', 'cfg_api hidden again');
});

test('SIGUSR1 reloads the schema cache and SIGUSR2 the settings, as in PostgREST', async () => {
  await db.query(`CREATE FUNCTION public.cfg_timeout() RETURNS text LANGUAGE sql STABLE AS $$ SELECT current_setting('statement_timeout') $$`);
  const timeout = async () => (await get('/rpc/cfg_timeout')).json();
  await until(async () => (await get('/rpc/cfg_timeout')).status === 200, 'cfg_timeout');
  assert.equal(await timeout(), '3s');
  // A role's settings live in the schema cache, and ALTER ROLE fires no DDL trigger.
  await db.query(`ALTER ROLE anon SET statement_timeout = '2s'`);
  try {
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await timeout(), '3s', 'nothing reloaded yet');
    process.kill(dev.pid, 'SIGUSR1');
    await until(async () => (await timeout()) === '2s', 'the schema cache reloaded on SIGUSR1');

    await db.query(`ALTER ROLE CURRENT_USER SET pgrst.server_timing_enabled = 'true'`);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await get('/cfg_items')).headers.get('server-timing'), null);
    process.kill(dev.pid, 'SIGUSR2');
    await until(async () => (await get('/cfg_items')).headers.get('server-timing') !== null, 'settings reloaded on SIGUSR2');
  } finally {
    await db.query(`ALTER ROLE anon SET statement_timeout = '3s'`);
    await db.query(`ALTER ROLE CURRENT_USER RESET pgrst.server_timing_enabled`);
  }
});

test('db_anon_role names the role of tokens without one, or turns anonymous access off', async () => {
  // Role settings so far: jwt_aud 'another'; the pre-config function's role claim key.
  const roleless = token({ aud: 'another', sub: 'no-role-here' });
  assert.equal(await (await get('/rpc/cfg_whoami', roleless)).json(), 'anon');
  await db.query(`ALTER ROLE CURRENT_USER SET pgrst.db_anon_role = 'authenticated'`);
  await reloadConfig();
  await until(async () => (await (await get('/rpc/cfg_whoami', roleless)).json()) === 'authenticated', 'the anon role renamed');

  await db.query(`ALTER ROLE CURRENT_USER SET pgrst.db_anon_role = 'none'`);
  await reloadConfig();
  await until(async () => (await get('/rpc/cfg_whoami', roleless)).status === 401, 'anonymous access off');
  const refused = await get('/rpc/cfg_whoami', roleless);
  assert.deepEqual(await refused.json(), { code: 'PGRST302', message: 'Anonymous access is disabled' });
  // A token that names its role still works.
  const named = token({ aud: 'another', app_metadata: { role: 'authenticated' } });
  assert.equal(await (await get('/rpc/cfg_whoami', named)).json(), 'authenticated');
  await db.query(`ALTER ROLE CURRENT_USER RESET pgrst.db_anon_role`);
  await reloadConfig();
  await until(async () => (await (await get('/rpc/cfg_whoami', roleless)).json()) === 'anon', 'anon again');
});
