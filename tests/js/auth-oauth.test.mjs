// OAuth/OIDC sign-in against a fake provider on loopback, served by a second data plane
// (`madbase serve` on the same database) configured with the providers and an ES256 signing
// key: /authorize -> provider -> /callback, signInWithIdToken, and the JWKS endpoint.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';
import { instance } from './harness.mjs';
import { claimsOf } from './auth-helpers.mjs';
import { startIdp, startServe } from './auth-provider.mjs';

const mb = instance();
let idp, idpUrl, serve, url;
const es = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const esJwk = { ...es.privateKey.export({ format: 'jwk' }), kid: 'mb-es-1', key_ops: ['sign', 'verify'] };
const sub = `idp-${randomUUID().slice(0, 8)}`;
const userEmail = `${sub}@idp.test`;
const idToken = (claims) => idp.idToken(claims);

before(async () => {
  idp = await startIdp();
  idpUrl = idp.url;
  idp.profile('provider-code', {
    oidc: { sub, email: userEmail, email_verified: true, name: 'Idp User' },
    github: { id: 777, login: 'octo', name: 'Octo' },
    githubEmails: [{ email: `octo-${sub}@gh.test`, primary: true, verified: true }],
  });
  serve = await startServe({ idp, env: { MADBASE_AUTH_JWT_KEYS: JSON.stringify([esJwk]) } });
  url = serve.url;
});

after(async () => {
  await serve?.stop();
  idp?.close();
});

const log = () => serve.log();

async function oauthRoundTrip(provider) {
  const start = await fetch(`${url}/auth/v1/authorize?provider=${provider}&redirect_to=${encodeURIComponent('http://localhost:3000/cb')}`, { redirect: 'manual' });
  assert.equal(start.status, 302, await start.text());
  const to = new URL(start.headers.get('location'));
  assert.equal(to.origin, idpUrl);
  assert.equal(to.searchParams.get('redirect_uri'), `${url}/auth/v1/callback`);
  const state = to.searchParams.get('state');
  const cb = await fetch(`${url}/auth/v1/callback?code=provider-code&state=${state}`, { redirect: 'manual' });
  assert.equal(cb.status, 303);
  const loc = cb.headers.get('location');
  assert.ok(loc.startsWith('http://localhost:3000/cb#access_token='), `${loc}\n${log()}`);
  const frag = new URLSearchParams(loc.split('#')[1]);
  assert.equal(frag.get('provider_token'), 'at-provider-code');
  const replay = await fetch(`${url}/auth/v1/callback?code=provider-code&state=${state}`, { redirect: 'manual' });
  assert.match(replay.headers.get('location'), /error_code=flow_state_not_found/);
  return frag;
}

test('OIDC sign-in by discovery: authorize, callback, identity linked, ES256 access token', async () => {
  const frag = await oauthRoundTrip('oidc');
  const token = frag.get('access_token');
  const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url'));
  assert.equal(header.alg, 'ES256');
  assert.equal(header.kid, 'mb-es-1');
  const c = claimsOf(token);
  assert.equal(c.email, userEmail);
  assert.equal(c.amr[0].method, 'oauth');
  const supabase = createClient(url, mb.anonKey, { auth: { persistSession: false } });
  const { data, error } = await supabase.auth.getUser(token);
  assert.equal(error, null, error?.message);
  assert.equal(data.user.identities[0].provider, 'oidc');
  assert.equal(data.user.identities[0].id, sub);
  assert.deepEqual(data.user.app_metadata.providers, ['oidc']);
  // The JWKS publishes the public key only; getClaims verifies locally with it.
  const jwks = await (await fetch(`${url}/auth/v1/.well-known/jwks.json`)).json();
  assert.equal(jwks.keys.length, 1);
  assert.equal(jwks.keys[0].kid, 'mb-es-1');
  assert.equal(jwks.keys[0].d, undefined);
  // The same user signs in again through the same identity.
  const again = await oauthRoundTrip('oidc');
  assert.equal(claimsOf(again.get('access_token')).sub, c.sub);
});

test('GitHub sign-in reads the primary verified email', async () => {
  const frag = await oauthRoundTrip('github');
  const c = claimsOf(frag.get('access_token'));
  assert.equal(c.email, `octo-${sub}@gh.test`);
  assert.equal(c.app_metadata.provider, 'github');
});

test('signInWithIdToken verifies the ID token against the issuer JWKS', async () => {
  const supabase = createClient(url, mb.anonKey, { auth: { persistSession: false } });
  const now = Math.floor(Date.now() / 1000);
  const good = idToken({ iss: idpUrl, aud: 'madbase-client', sub, email: userEmail, email_verified: true, iat: now, exp: now + 300 });
  const { data, error } = await supabase.auth.signInWithIdToken({ provider: 'oidc', token: good });
  assert.equal(error, null, error?.message);
  assert.equal(data.user.email, userEmail);
  const wrongAud = idToken({ iss: idpUrl, aud: 'someone-else', sub, iat: now, exp: now + 300 });
  assert.equal((await supabase.auth.signInWithIdToken({ provider: 'oidc', token: wrongAud })).error.status, 400);
  const expired = idToken({ iss: idpUrl, aud: 'madbase-client', sub, iat: now - 900, exp: now - 600 });
  assert.equal((await supabase.auth.signInWithIdToken({ provider: 'oidc', token: expired })).error.status, 400);
  const unknown = await supabase.auth.signInWithIdToken({ provider: 'gitlab', token: good });
  assert.equal(unknown.error.status, 400);
});

test('unknown providers and redirects outside the allow-list', async () => {
  const res = await fetch(`${url}/auth/v1/authorize?provider=myspace`, { redirect: 'manual' });
  assert.equal(res.status, 400);
  const evil = await fetch(`${url}/auth/v1/authorize?provider=oidc&redirect_to=${encodeURIComponent('https://evil.test/')}`, { redirect: 'manual' });
  const state = new URL(evil.headers.get('location')).searchParams.get('state');
  const cb = await fetch(`${url}/auth/v1/callback?code=x&state=${state}`, { redirect: 'manual' });
  assert.ok(cb.headers.get('location').startsWith('http://localhost:3000#'), cb.headers.get('location'));
});
