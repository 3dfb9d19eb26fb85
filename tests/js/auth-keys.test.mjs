// Asymmetric signing keys through supabase-js: RS256 chosen by MADBASE_AUTH_JWT_SIGNING_ALG
// beside an ES256 key, both published at /auth/v1/.well-known/jwks.json; getClaims verifies
// locally; the data API accepts the tokens (auth.uid() in SQL); rotating to ES256 keeps the
// RS256 tokens valid while their key stays listed, and dropping the key ends them.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { startServe, clientOf } from './auth-provider.mjs';
import { email, claimsOf } from './auth-helpers.mjs';
import { sql, instance } from './harness.mjs';

const mb = instance();
const rsa = { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), kid: 'rs-1' };
const es = { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid: 'es-1' };
const publicOf = ({ d, p, q, dp, dq, qi, ...pub }) => pub;
let serve;

before(async () => {
  await sql(`
    CREATE OR REPLACE FUNCTION public.auth_keys_whoami() RETURNS uuid LANGUAGE sql STABLE AS $$ SELECT auth.uid() $$;
    GRANT EXECUTE ON FUNCTION public.auth_keys_whoami() TO authenticated;
    NOTIFY pgrst, 'reload schema';
  `);
});

after(async () => {
  await serve?.stop();
});

async function restart(keys, alg) {
  const port = serve?.port;
  await serve?.stop();
  serve = await startServe({ port, env: { MADBASE_AUTH_JWT_KEYS: JSON.stringify(keys), MADBASE_AUTH_JWT_SIGNING_ALG: alg } });
}

async function whoami(token) {
  const res = await fetch(`${serve.url}/rest/v1/rpc/auth_keys_whoami`, {
    method: 'POST',
    headers: { apikey: mb.anonKey, authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: '{}',
  });
  return { status: res.status, body: await res.json() };
}

test('RS256 signs when chosen; JWKS, getClaims, the data API and rotation', async () => {
  await restart([es, rsa], 'RS256');
  const supabase = clientOf(serve.url);
  const { data, error } = await supabase.auth.signUp({ email: email('rs256'), password: 'a-good-password-1' });
  assert.equal(error, null, error?.message);
  const token = data.session.access_token;
  const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url'));
  assert.equal(header.alg, 'RS256');
  assert.equal(header.kid, 'rs-1');

  const jwksRes = await fetch(`${serve.url}/auth/v1/.well-known/jwks.json`);
  assert.equal(jwksRes.headers.get('cache-control'), 'public, max-age=600');
  const jwks = await jwksRes.json();
  assert.deepEqual(jwks.keys.map((k) => `${k.kid}:${k.alg}`).sort(), ['es-1:ES256', 'rs-1:RS256']);
  for (const k of jwks.keys) for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(k[priv], undefined, `${k.kid}.${priv} leaked`);

  // auth-js verifies RS256 locally with the published key.
  const claims = await supabase.auth.getClaims();
  assert.equal(claims.error, null, claims.error?.message);
  assert.equal(claims.data.claims.sub, data.user.id);
  assert.equal(claims.data.header.alg, 'RS256');

  assert.deepEqual(await whoami(token), { status: 200, body: data.user.id });
  const [h, , s] = token.split('.');
  const forged = Buffer.from(JSON.stringify({ ...claimsOf(token), role: 'service_role' })).toString('base64url');
  assert.equal((await whoami(`${h}.${forged}.${s}`)).status, 401, 'tampered token refused');

  // Rotation: ES256 signs now; the RS256 key stays listed (verify only) and its tokens work.
  await restart([es, publicOf(rsa)], 'ES256');
  assert.deepEqual(await whoami(token), { status: 200, body: data.user.id });
  const stillUser = await fetch(`${serve.url}/auth/v1/user`, { headers: { apikey: mb.anonKey, authorization: `Bearer ${token}` } });
  assert.equal(stillUser.status, 200);
  const refreshed = await supabase.auth.refreshSession();
  assert.equal(refreshed.error, null, refreshed.error?.message);
  const newHeader = JSON.parse(Buffer.from(refreshed.data.session.access_token.split('.')[0], 'base64url'));
  assert.equal(newHeader.alg, 'ES256');
  assert.equal(newHeader.kid, 'es-1');

  // The RS256 key dropped: its tokens end, in the data API and in auth.
  await restart([es], 'ES256');
  assert.equal((await whoami(token)).status, 401);
  const gone = await fetch(`${serve.url}/auth/v1/user`, {
    headers: { apikey: mb.anonKey, authorization: `Bearer ${token}`, 'x-supabase-api-version': '2024-01-01' },
  });
  assert.equal(gone.status, 403);
  assert.equal((await gone.json()).code, 'bad_jwt');
});

test('a signing algorithm without a matching private key stops start-up with a clear message', async () => {
  await serve?.stop();
  serve = undefined;
  await assert.rejects(
    startServe({ env: { MADBASE_AUTH_JWT_KEYS: JSON.stringify([es, publicOf(rsa)]), MADBASE_AUTH_JWT_SIGNING_ALG: 'RS256' } }),
    /MADBASE_AUTH_JWT_SIGNING_ALG is RS256 but MADBASE_AUTH_JWT_KEYS has no RSA private key/,
  );
});
