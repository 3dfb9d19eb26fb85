// Flows with email confirmations on (no autoconfirm) and secure email change on (GoTrue's
// default), against a `madbase serve` whose mail goes to the dev mailbox: an email change
// needs the link (or code) sent to the current address and the one sent to the new address,
// in either order, and neither alone changes anything.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServe, clientOf } from './auth-provider.mjs';
import { email } from './auth-helpers.mjs';
import { instance } from './harness.mjs';

const mb = instance();
let serve;

before(async () => {
  serve = await startServe({
    env: {
      MADBASE_AUTH_MAILER_AUTOCONFIRM: 'false',
      MADBASE_AUTH_DEV_MAILBOX: 'true',
      MADBASE_AUTH_EMAIL_MAX_FREQUENCY: '1s',
      MADBASE_AUTH_URI_ALLOW_LIST: 'http://localhost:3000/**',
    },
  });
});

after(async () => {
  await serve?.stop();
});

async function mail(to, kind) {
  const res = await fetch(`${serve.url}/auth/v1/_dev/mailbox?to=${encodeURIComponent(to)}`, { headers: { apikey: mb.serviceKey } });
  assert.equal(res.status, 200);
  const list = (await res.json()).messages.filter((m) => m.kind === kind);
  assert.ok(list.length > 0, `no ${kind} mail to ${to}`);
  return list[list.length - 1];
}

/** A confirmed, signed-in user of the confirmations-on project. */
async function confirmedUser() {
  const supabase = clientOf(serve.url);
  const addr = email('confirm');
  const { data, error } = await supabase.auth.signUp({ email: addr, password: 'a-good-password-1' });
  assert.equal(error, null, error?.message);
  assert.equal(data.session, null, 'confirmations on: no session before the link');
  const confirmation = await mail(addr, 'confirmation');
  const v = await supabase.auth.verifyOtp({ email: addr, token: confirmation.token, type: 'signup' });
  assert.equal(v.error, null, v.error?.message);
  return { supabase, addr };
}

async function follow(link) {
  const res = await fetch(link, { redirect: 'manual' });
  assert.equal(res.status, 303, await res.text());
  return res.headers.get('location');
}

test('email change needs the links sent to both the current and the new address', async () => {
  const { supabase, addr } = await confirmedUser();
  const next = email('next');
  const { data, error } = await supabase.auth.updateUser({ email: next }, { emailRedirectTo: 'http://localhost:3000/changed' });
  assert.equal(error, null, error?.message);
  assert.equal(data.user.email, addr, 'nothing changes before confirmation');
  assert.equal(data.user.new_email, next);
  assert.ok(data.user.email_change_sent_at);

  const toCurrent = await mail(addr, 'email_change');
  const toNew = await mail(next, 'email_change');
  assert.notEqual(toCurrent.link, toNew.link, 'each address gets its own link');
  assert.notEqual(toCurrent.token, toNew.token);

  // The current address confirms first: accepted, but the email stays until the other link.
  const half = await follow(toCurrent.link);
  assert.ok(half.startsWith('http://localhost:3000/changed#message='), half);
  assert.match(decodeURIComponent(half), /proceed to confirm link sent to the other email/);
  assert.ok(!half.includes('access_token'), 'no session from half a confirmation');
  let { data: mid } = await supabase.auth.getUser();
  assert.equal(mid.user.email, addr);
  assert.equal(mid.user.new_email, next);
  // The same link twice does not count as the second confirmation.
  assert.match(await follow(toCurrent.link), /error_code=otp_expired/);
  ({ data: mid } = await supabase.auth.getUser());
  assert.equal(mid.user.email, addr);

  const done = await follow(toNew.link);
  assert.ok(done.startsWith('http://localhost:3000/changed#access_token='), done);
  const { data: after } = await supabase.auth.getUser();
  assert.equal(after.user.email, next);
  assert.equal(after.user.new_email, undefined);
  assert.ok(after.user.identities.some((i) => i.provider === 'email' && i.identity_data.email === next));
  const signIn = await clientOf(serve.url).auth.signInWithPassword({ email: next, password: 'a-good-password-1' });
  assert.equal(signIn.error, null, signIn.error?.message);
  const old = await clientOf(serve.url).auth.signInWithPassword({ email: addr, password: 'a-good-password-1' });
  assert.equal(old.error.code, 'invalid_credentials');
});

test('email change by codes: the new address first, then the current one', async () => {
  const { supabase, addr } = await confirmedUser();
  const next = email('next-otp');
  assert.equal((await supabase.auth.updateUser({ email: next })).error, null);
  const toCurrent = await mail(addr, 'email_change');
  const toNew = await mail(next, 'email_change');

  const wrong = await supabase.auth.verifyOtp({ email: next, token: toCurrent.token, type: 'email_change' });
  assert.equal(wrong.error.status, 403, "one address's code does not confirm the other");
  assert.equal(wrong.error.code, 'otp_expired');

  const first = await supabase.auth.verifyOtp({ email: next, token: toNew.token, type: 'email_change' });
  assert.equal(first.error, null, first.error?.message);
  assert.equal(first.data.session, null, 'first confirmation: a message, no session');
  assert.equal((await supabase.auth.getUser()).data.user.email, addr);

  const second = await supabase.auth.verifyOtp({ email: addr, token: toCurrent.token, type: 'email_change' });
  assert.equal(second.error, null, second.error?.message);
  assert.equal(second.data.user.email, next);
  assert.ok(second.data.session.access_token);
});
