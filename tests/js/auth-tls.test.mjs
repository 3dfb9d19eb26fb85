// Outbound HTTPS from `madbase serve` to an OAuth/OIDC provider whose certificate comes from a
// private CA made at test time (openssl CLI): trusted through MADBASE_AUTH_OUTBOUND_CA_FILE the
// whole flow works over TLS (discovery, token, userinfo, JWKS); under another CA the provider
// is refused with a clear provider_error; a missing CA file stops start-up.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startIdp, startServe, testCa, clientOf } from './auth-provider.mjs';
import { claimsOf } from './auth-helpers.mjs';

const ca = testCa();
const stranger = testCa('Some other CA');
const skip = ca ? false : 'the openssl CLI is not installed; outbound TLS is covered by the Rust tests';
let idp;
const servers = [];

before(async () => {
  if (skip) return;
  idp = await startIdp({ tls: ca });
});

after(async () => {
  for (const s of servers) await s.stop();
  idp?.close();
});

async function serveTrusting(caFile) {
  const s = await startServe({ idp, env: { MADBASE_AUTH_OUTBOUND_CA_FILE: caFile } });
  servers.push(s);
  return s;
}

test('an HTTPS provider under a trusted private CA: sign-in and ID tokens work', { skip }, async () => {
  assert.ok(idp.url.startsWith('https://'));
  const serve = await serveTrusting(ca.caFile);
  const sub = `tls-${randomUUID().slice(0, 8)}`;
  idp.profile('tls-code', { oidc: { sub, email: `${sub}@idp.test`, email_verified: true } });
  const start = await fetch(`${serve.url}/auth/v1/authorize?provider=oidc`, { redirect: 'manual' });
  assert.equal(start.status, 302, await start.text());
  const state = new URL(start.headers.get('location')).searchParams.get('state');
  const cb = await fetch(`${serve.url}/auth/v1/callback?code=tls-code&state=${state}`, { redirect: 'manual' });
  const loc = cb.headers.get('location');
  assert.match(loc, /#access_token=/, `${loc}\n${serve.log()}`);
  assert.equal(claimsOf(new URLSearchParams(loc.split('#')[1]).get('access_token')).email, `${sub}@idp.test`);

  const now = Math.floor(Date.now() / 1000);
  const token = idp.idToken({ iss: idp.url, aud: 'madbase-client', sub, email: `${sub}@idp.test`, email_verified: true, iat: now, exp: now + 300 });
  const { data, error } = await clientOf(serve.url).auth.signInWithIdToken({ provider: 'oidc', token });
  assert.equal(error, null, error?.message);
  assert.equal(data.user.email, `${sub}@idp.test`);
});

test('a provider certificate from an untrusted CA is refused with a clear error', { skip }, async () => {
  const serve = await serveTrusting(stranger.caFile);
  const res = await fetch(`${serve.url}/auth/v1/authorize?provider=oidc`, {
    redirect: 'manual',
    headers: { 'x-supabase-api-version': '2024-01-01' },
  });
  assert.equal(res.status, 502);
  const body = await res.json();
  assert.equal(body.code, 'provider_error');
  assert.match(body.message, /invalid peer certificate: UnknownIssuer/);
});

test('a missing CA file stops start-up, naming the setting', { skip }, async () => {
  await assert.rejects(
    startServe({ env: { MADBASE_AUTH_OUTBOUND_CA_FILE: '/nonexistent/madbase-ca.pem' } }),
    /MADBASE_AUTH_OUTBOUND_CA_FILE: cannot read \/nonexistent\/madbase-ca.pem/,
  );
});
