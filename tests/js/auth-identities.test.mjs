// linkIdentity / unlinkIdentity against a data plane with manual linking on and the fake
// OAuth/OIDC provider; the suite's own `madbase dev` keeps manual linking off, as GoTrue's
// default, and answers 404 manual_linking_disabled.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startIdp, startServe, clientOf } from './auth-provider.mjs';
import { client, email, claimsOf } from './auth-helpers.mjs';
import { instance } from './harness.mjs';

let idp, serve;

before(async () => {
  idp = await startIdp();
  serve = await startServe({
    idp,
    env: {
      MADBASE_AUTH_SECURITY_MANUAL_LINKING_ENABLED: 'true',
      MADBASE_AUTH_EXTERNAL_ANONYMOUS_USERS_ENABLED: 'true',
      MADBASE_AUTH_DEV_MAILBOX: 'true',
    },
  });
});

after(async () => {
  await serve?.stop();
  idp?.close();
});

/** Follows a linkIdentity/authorize URL through the fake provider; returns the callback's
 * redirect target. */
async function throughProvider(authorizeUrl, code) {
  const state = new URL(authorizeUrl).searchParams.get('state');
  const cb = await fetch(`${serve.url}/auth/v1/callback?code=${code}&state=${state}`, { redirect: 'manual' });
  assert.equal(cb.status, 303, await cb.text());
  return cb.headers.get('location');
}

function oidcProfile(code) {
  const sub = `oidc-${randomUUID().slice(0, 8)}`;
  idp.profile(code, { oidc: { sub, email: `${sub}@idp.test`, email_verified: true, name: 'Linked' } });
  return sub;
}

async function signedUpUser() {
  const supabase = clientOf(serve.url);
  const addr = email('link');
  const { data, error } = await supabase.auth.signUp({ email: addr, password: 'a-good-password-1' });
  assert.equal(error, null, error?.message);
  return { supabase, addr, id: data.user.id };
}

test('linkIdentity links an OIDC identity through the provider; unlinkIdentity removes it', async () => {
  const { supabase, addr, id } = await signedUpUser();
  const code = `c-${randomUUID()}`;
  const sub = oidcProfile(code);
  const { data, error } = await supabase.auth.linkIdentity({
    provider: 'oidc',
    options: { redirectTo: 'http://localhost:3000/linked' },
  });
  assert.equal(error, null, error?.message);
  assert.equal(data.provider, 'oidc');
  assert.ok(data.url.startsWith(`${idp.url}/authorize?`), data.url);
  const loc = await throughProvider(data.url, code);
  assert.ok(loc.startsWith('http://localhost:3000/linked#access_token='), loc);
  const token = new URLSearchParams(loc.split('#')[1]).get('access_token');
  assert.equal(claimsOf(token).sub, id, 'the session is the linking user');
  assert.equal(claimsOf(token).email, addr, 'the user keeps its email');

  const { data: ids } = await supabase.auth.getUserIdentities();
  assert.deepEqual(ids.identities.map((i) => i.provider).sort(), ['email', 'oidc']);
  const oidc = ids.identities.find((i) => i.provider === 'oidc');
  assert.equal(oidc.id, sub);
  const { data: u } = await supabase.auth.getUser();
  assert.deepEqual(u.user.app_metadata.providers.sort(), ['email', 'oidc']);

  // The same provider identity cannot be linked twice, to this or another user.
  const again = await supabase.auth.linkIdentity({ provider: 'oidc' });
  assert.match(await throughProvider(again.data.url, code), /error_code=identity_already_exists/);
  const other = await signedUpUser();
  const stolen = await other.supabase.auth.linkIdentity({ provider: 'oidc' });
  const stolenLoc = await throughProvider(stolen.data.url, code);
  assert.match(stolenLoc, /error_code=identity_already_exists/);
  assert.match(decodeURIComponent(stolenLoc), /linked to another user/);
  const { data: otherIds } = await other.supabase.auth.getUserIdentities();
  assert.equal(otherIds.identities.length, 1, 'nothing half-written');

  const removed = await supabase.auth.unlinkIdentity(oidc);
  assert.equal(removed.error, null, removed.error?.message);
  const { data: after } = await supabase.auth.getUser();
  assert.deepEqual(after.user.identities.map((i) => i.provider), ['email']);
  assert.deepEqual(after.user.app_metadata.providers, ['email']);
  // The provider identity is free again: signing in with it now makes a new user.
  const fresh = await fetch(`${serve.url}/auth/v1/authorize?provider=oidc`, { redirect: 'manual' });
  const freshLoc = await throughProvider(fresh.headers.get('location'), code);
  assert.notEqual(claimsOf(new URLSearchParams(freshLoc.split('#')[1]).get('access_token')).sub, id);
});

test('the last identity cannot be unlinked; unknown identities are refused', async () => {
  const { supabase } = await signedUpUser();
  const { data } = await supabase.auth.getUserIdentities();
  assert.equal(data.identities.length, 1);
  const last = await supabase.auth.unlinkIdentity(data.identities[0]);
  assert.equal(last.error.status, 422);
  assert.equal(last.error.code, 'single_identity_not_deletable');

  const code = `c-${randomUUID()}`;
  oidcProfile(code);
  const link = await supabase.auth.linkIdentity({ provider: 'oidc' });
  await throughProvider(link.data.url, code);
  const unknown = await supabase.auth.unlinkIdentity({ identity_id: randomUUID() });
  assert.equal(unknown.error.status, 422);
  assert.equal(unknown.error.code, 'identity_not_found');
  const bad = await supabase.auth.unlinkIdentity({ identity_id: 'not-a-uuid' });
  assert.equal(bad.error.status, 404);
  assert.equal(bad.error.code, 'validation_failed');
  const { data: still } = await supabase.auth.getUserIdentities();
  assert.equal(still.identities.length, 2);
});

test('unlinking the identity that gave the email promotes the remaining identity\'s email', async () => {
  const code = `c-${randomUUID()}`;
  const sub = oidcProfile(code);
  const start = await fetch(`${serve.url}/auth/v1/authorize?provider=oidc`, { redirect: 'manual' });
  const loc = await throughProvider(start.headers.get('location'), code);
  const frag = new URLSearchParams(loc.split('#')[1]);
  const supabase = clientOf(serve.url);
  await supabase.auth.setSession({ access_token: frag.get('access_token'), refresh_token: frag.get('refresh_token') });

  const ghCode = `g-${randomUUID()}`;
  const ghEmail = `gh-${randomUUID().slice(0, 8)}@gh.test`;
  idp.profile(ghCode, {
    github: { id: Math.floor(Math.random() * 1e9), login: 'octo' },
    githubEmails: [{ email: ghEmail, primary: true, verified: true }],
  });
  const link = await supabase.auth.linkIdentity({ provider: 'github' });
  assert.equal(link.error, null, link.error?.message);
  await throughProvider(link.data.url, ghCode);
  const { data: before } = await supabase.auth.getUser();
  assert.equal(before.user.email, `${sub}@idp.test`);
  const oidc = before.user.identities.find((i) => i.provider === 'oidc');
  assert.equal((await supabase.auth.unlinkIdentity(oidc)).error, null);
  const { data: after } = await supabase.auth.getUser();
  assert.equal(after.user.email, ghEmail);
  assert.ok(after.user.email_confirmed_at, 'a provider-verified email stays confirmed');
  assert.deepEqual(after.user.app_metadata.providers, ['github']);
  assert.equal(after.user.app_metadata.provider, 'github');
});

test('linkIdentity with an ID token links to the signed-in user', async () => {
  const { supabase, id } = await signedUpUser();
  const now = Math.floor(Date.now() / 1000);
  const sub = `tok-${randomUUID().slice(0, 8)}`;
  const token = idp.idToken({ iss: idp.url, aud: 'madbase-client', sub, email: `${sub}@idp.test`, email_verified: true, iat: now, exp: now + 300 });
  const { data, error } = await supabase.auth.linkIdentity({ provider: 'oidc', token });
  assert.equal(error, null, error?.message);
  assert.equal(data.user.id, id);
  assert.deepEqual(data.user.identities.map((i) => i.provider).sort(), ['email', 'oidc']);
  const noSession = await fetch(`${serve.url}/auth/v1/token?grant_type=id_token`, {
    method: 'POST',
    headers: { apikey: instance().anonKey, 'content-type': 'application/json', 'x-supabase-api-version': '2024-01-01' },
    body: JSON.stringify({ provider: 'oidc', id_token: token, link_identity: true }),
  });
  // The gateway turns the bare apikey into its bearer, which names no user.
  assert.equal(noSession.status, 403, 'linking needs a signed-in user');
  assert.equal((await noSession.json()).code, 'bad_jwt');
});

test('an anonymous user who links a provider with a verified email becomes a regular user', async () => {
  const supabase = clientOf(serve.url);
  const { data: anon, error } = await supabase.auth.signInAnonymously();
  assert.equal(error, null, error?.message);
  assert.equal(anon.user.is_anonymous, true);
  const code = `c-${randomUUID()}`;
  const sub = oidcProfile(code);
  const link = await supabase.auth.linkIdentity({ provider: 'oidc' });
  assert.equal(link.error, null, link.error?.message);
  const loc = await throughProvider(link.data.url, code);
  const token = new URLSearchParams(loc.split('#')[1]).get('access_token');
  const c = claimsOf(token);
  assert.equal(c.sub, anon.user.id);
  assert.equal(c.is_anonymous, false);
  assert.equal(c.email, `${sub}@idp.test`);
  assert.deepEqual(c.app_metadata.providers, ['oidc']);
  assert.equal(c.app_metadata.provider, 'oidc');
});

test('linking an unverified provider email links it but asks to confirm the email first', async () => {
  const supabase = clientOf(serve.url);
  const { data: anon } = await supabase.auth.signInAnonymously();
  const code = `c-${randomUUID()}`;
  const sub = `unv-${randomUUID().slice(0, 8)}`;
  idp.profile(code, { oidc: { sub, email: `${sub}@idp.test`, email_verified: false } });
  const link = await supabase.auth.linkIdentity({ provider: 'oidc' });
  const loc = await throughProvider(link.data.url, code);
  assert.match(loc, /error_code=email_not_confirmed/);
  assert.match(decodeURIComponent(loc), /A confirmation email has been sent/);
  const { data: ids } = await supabase.auth.getUserIdentities();
  assert.deepEqual(ids.identities.map((i) => i.provider), ['oidc'], 'the identity stays linked');
  const { data: u } = await supabase.auth.getUser();
  assert.equal(u.user.id, anon.user.id);
  assert.equal(u.user.email, `${sub}@idp.test`);
  assert.equal(u.user.email_confirmed_at, undefined);
  const res = await fetch(`${serve.url}/auth/v1/_dev/mailbox?to=${encodeURIComponent(`${sub}@idp.test`)}`, { headers: { apikey: instance().serviceKey } });
  const [mail] = (await res.json()).messages;
  assert.equal(mail.kind, 'confirmation');
  const v = await supabase.auth.verifyOtp({ email: `${sub}@idp.test`, token: mail.token, type: 'signup' });
  assert.equal(v.error, null, v.error?.message);
  assert.ok(v.data.user.email_confirmed_at);
});

test('with manual linking off (the default) both endpoints answer 404 manual_linking_disabled', async () => {
  const supabase = client();
  const addr = email('nolink');
  const { error } = await supabase.auth.signUp({ email: addr, password: 'a-good-password-1' });
  assert.equal(error, null, error?.message);
  const link = await supabase.auth.linkIdentity({ provider: 'github' });
  assert.equal(link.error.status, 404);
  assert.equal(link.error.code, 'manual_linking_disabled');
  const { data } = await supabase.auth.getUserIdentities();
  const unlink = await supabase.auth.unlinkIdentity(data.identities[0]);
  assert.equal(unlink.error.status, 404);
  assert.equal(unlink.error.code, 'manual_linking_disabled');
});
