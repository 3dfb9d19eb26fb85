// Phone (SMS) MFA through supabase-js against a data plane with phone MFA on and the dev
// mailbox catching SMS: enroll, challenge (code by SMS), verify to aal2 with `mfa/phone` in
// amr, the per-factor SMS frequency limit, and the refusals. The suite's `madbase dev` keeps
// phone MFA off, as GoTrue's default.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServe, clientOf } from './auth-provider.mjs';
import { client, email, claimsOf } from './auth-helpers.mjs';
import { instance } from './harness.mjs';

const mb = instance();
let serve;

before(async () => {
  serve = await startServe({
    env: {
      MADBASE_AUTH_DEV_MAILBOX: 'true',
      MADBASE_AUTH_MFA_PHONE_ENROLL_ENABLED: 'true',
      MADBASE_AUTH_MFA_PHONE_VERIFY_ENABLED: 'true',
    },
  });
});

after(async () => {
  await serve?.stop();
});

const phoneNumber = () => `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;

async function smsTo(phone) {
  const res = await fetch(`${serve.url}/auth/v1/_dev/mailbox?to=${encodeURIComponent(phone.replace('+', ''))}`, {
    headers: { apikey: mb.serviceKey },
  });
  assert.equal(res.status, 200);
  return (await res.json()).messages.filter((m) => m.channel === 'sms');
}

async function signedIn() {
  const supabase = clientOf(serve.url);
  const { error } = await supabase.auth.signUp({ email: email('mfaphone'), password: 'a-good-password-1' });
  assert.equal(error, null, error?.message);
  return supabase;
}

test('phone MFA: enroll, SMS challenge, verify lifts the session to aal2 with mfa/phone', async () => {
  const supabase = await signedIn();
  const phone = phoneNumber();
  const { data: factor, error } = await supabase.auth.mfa.enroll({ factorType: 'phone', phone, friendlyName: 'my phone' });
  assert.equal(error, null, error?.message);
  assert.equal(factor.type, 'phone');
  assert.equal(factor.phone, phone);
  assert.equal(factor.friendly_name, 'my phone');

  const { data: ch, error: chErr } = await supabase.auth.mfa.challenge({ factorId: factor.id });
  assert.equal(chErr, null, chErr?.message);
  assert.equal(ch.type, 'phone');
  assert.ok(ch.expires_at > Date.now() / 1000);
  const sms = await smsTo(phone);
  assert.equal(sms.length, 1);
  const code = sms[0].body.match(/(\d{6})/)[1];
  assert.equal(sms[0].token, code);
  assert.ok(!serve.log().includes(code), 'the code never reaches the log');

  const wrong = await supabase.auth.mfa.verify({ factorId: factor.id, challengeId: ch.id, code: code === '000000' ? '111111' : '000000' });
  assert.equal(wrong.error.status, 422);
  assert.equal(wrong.error.code, 'mfa_verification_failed');

  const { data: session, error: vErr } = await supabase.auth.mfa.verify({ factorId: factor.id, challengeId: ch.id, code });
  assert.equal(vErr, null, vErr?.message);
  const c = claimsOf(session.access_token);
  assert.equal(c.aal, 'aal2');
  assert.equal(c.amr[0].method, 'mfa/phone');
  assert.ok(c.amr.some((a) => a.method === 'password'));
  const { data: aal } = await supabase.auth.mfa.getAuthenticatorAssuranceLevel();
  assert.equal(aal.currentLevel, 'aal2');
  assert.equal(aal.nextLevel, 'aal2');
  assert.ok(aal.currentAuthenticationMethods.some((m) => m.method === 'mfa/phone'));
  const { data: list } = await supabase.auth.mfa.listFactors();
  assert.equal(list.phone.length, 1);
  assert.equal(list.phone[0].status, 'verified');

  // A used challenge cannot be replayed; a new code within the frequency window is refused.
  const replay = await supabase.auth.mfa.verify({ factorId: factor.id, challengeId: ch.id, code });
  assert.equal(replay.error.status, 422);
  assert.equal(replay.error.code, 'mfa_challenge_expired');
  const again = await supabase.auth.mfa.challenge({ factorId: factor.id });
  assert.equal(again.error.status, 429);
  assert.equal(again.error.code, 'over_sms_send_rate_limit');
  assert.equal((await smsTo(phone)).length, 1, 'no SMS for a refused challenge');

  // The number cannot be enrolled twice once verified.
  const dup = await supabase.auth.mfa.enroll({ factorType: 'phone', phone });
  assert.equal(dup.error.status, 422);
  assert.equal(dup.error.code, 'mfa_verified_factor_exists');

  // With a verified factor, a password-only (aal1) session cannot add another factor.
  const { data: me } = await supabase.auth.getUser();
  const aal1 = clientOf(serve.url);
  assert.equal((await aal1.auth.signInWithPassword({ email: me.user.email, password: 'a-good-password-1' })).error, null);
  for (const attempt of [{ factorType: 'phone', phone: phoneNumber() }, { factorType: 'totp' }]) {
    const more = await aal1.auth.mfa.enroll(attempt);
    assert.equal(more.error.status, 403, attempt.factorType);
    assert.equal(more.error.code, 'insufficient_aal');
  }
  const fromAal2 = await supabase.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'app' });
  assert.equal(fromAal2.error, null, fromAal2.error?.message);
});

test('phone MFA refuses bad numbers and unsupported channels', async () => {
  const supabase = await signedIn();
  const bad = await supabase.auth.mfa.enroll({ factorType: 'phone', phone: 'call me' });
  assert.equal(bad.error.status, 400);
  assert.equal(bad.error.code, 'validation_failed');
  const missing = await supabase.auth.mfa.enroll({ factorType: 'phone' });
  assert.equal(missing.error.status, 400);
  const { data: factor } = await supabase.auth.mfa.enroll({ factorType: 'phone', phone: phoneNumber() });
  const wa = await supabase.auth.mfa.challenge({ factorId: factor.id, channel: 'carrier-pigeon' });
  assert.equal(wa.error.status, 400);
  assert.equal(wa.error.code, 'validation_failed');
  const { data: user } = await supabase.auth.getUser();
  assert.equal(user.user.factors.length, 1, 'the refused enrolments left nothing behind');
  assert.equal(user.user.factors[0].status, 'unverified');
});

test('with phone MFA off (the default) enrolling a phone factor is refused', async () => {
  const supabase = client();
  await supabase.auth.signUp({ email: email('nophone'), password: 'a-good-password-1' });
  const { error } = await supabase.auth.mfa.enroll({ factorType: 'phone', phone: phoneNumber() });
  assert.equal(error.status, 422);
  assert.equal(error.code, 'mfa_phone_enroll_not_enabled');
});
