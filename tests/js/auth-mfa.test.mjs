// Anonymous users (and their conversion) and TOTP MFA through supabase-js: enroll, challenge,
// verify to aal2, getAuthenticatorAssuranceLevel, listFactors, unenroll, admin factor APIs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';
import { instance } from './harness.mjs';
import { client, email, claimsOf } from './auth-helpers.mjs';

const mb = instance();

function base32Decode(s) {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0, value = 0;
  const out = [];
  for (const c of s.replace(/=+$/, '')) {
    value = (value << 5) | abc.indexOf(c.toUpperCase());
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function totp(secret, t = Date.now() / 1000) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(t / 30)));
  const h = createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const o = h[19] & 15;
  const n = ((h[o] & 127) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(n % 1e6).padStart(6, '0');
}

test('signInAnonymously gives an anonymous session; updateUser with an email converts it', async () => {
  const supabase = client();
  const { data, error } = await supabase.auth.signInAnonymously({ options: { data: { guest: true } } });
  assert.equal(error, null);
  assert.equal(data.user.is_anonymous, true);
  assert.equal(data.user.email, '');
  assert.deepEqual(data.user.identities, []);
  const c = claimsOf(data.session.access_token);
  assert.equal(c.is_anonymous, true);
  assert.equal(c.amr[0].method, 'anonymous');
  assert.equal(c.email, '');
  const addr = email('convert');
  const up = await supabase.auth.updateUser({ email: addr });
  assert.equal(up.error, null, up.error?.message);
  assert.equal(up.data.user.email, addr);
  assert.equal(up.data.user.is_anonymous, false);
  const pw = await supabase.auth.updateUser({ password: 'secret-pass-1' });
  assert.equal(pw.error, null);
  assert.equal((await client().auth.signInWithPassword({ email: addr, password: 'secret-pass-1' })).error, null);
});

test('TOTP: enroll, challenge, verify lifts the session to aal2; wrong codes are refused', async () => {
  const supabase = client();
  await supabase.auth.signUp({ email: email('mfa'), password: 'secret-pass-1' });
  const aal1 = await supabase.auth.mfa.getAuthenticatorAssuranceLevel();
  assert.equal(aal1.data.currentLevel, 'aal1');
  assert.equal(aal1.data.nextLevel, 'aal1');
  const { data: f, error } = await supabase.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'phone app' });
  assert.equal(error, null, error?.message);
  assert.equal(f.type, 'totp');
  assert.match(f.totp.qr_code, /^data:image\/svg\+xml;utf-8,<\?xml|^data:image\/svg\+xml;utf-8,<svg/);
  assert.match(f.totp.uri, /^otpauth:\/\/totp\//);
  const ch = await supabase.auth.mfa.challenge({ factorId: f.id });
  assert.equal(ch.error, null);
  const bad = await supabase.auth.mfa.verify({ factorId: f.id, challengeId: ch.data.id, code: '000000' === totp(f.totp.secret) ? '111111' : '000000' });
  assert.equal(bad.error.code, 'mfa_verification_failed');
  const events = [];
  supabase.auth.onAuthStateChange((e) => events.push(e));
  const ok = await supabase.auth.mfa.verify({ factorId: f.id, challengeId: ch.data.id, code: totp(f.totp.secret) });
  assert.equal(ok.error, null, ok.error?.message);
  const c = claimsOf(ok.data.access_token);
  assert.equal(c.aal, 'aal2');
  assert.deepEqual(c.amr.map((a) => a.method).sort(), ['password', 'totp']);
  await new Promise((r) => setTimeout(r, 10));
  assert.ok(events.includes('MFA_CHALLENGE_VERIFIED'), events.join());
  const aal2 = await supabase.auth.mfa.getAuthenticatorAssuranceLevel();
  assert.equal(aal2.data.currentLevel, 'aal2');
  const factors = await supabase.auth.mfa.listFactors();
  assert.equal(factors.data.totp.length, 1);
  assert.equal(factors.data.totp[0].status, 'verified');
  // A fresh sign-in is aal1 with aal2 available.
  const other = client();
  await other.auth.signInWithPassword({ email: (await supabase.auth.getUser()).data.user.email, password: 'secret-pass-1' });
  const next = await other.auth.mfa.getAuthenticatorAssuranceLevel();
  assert.equal(next.data.currentLevel, 'aal1');
  assert.equal(next.data.nextLevel, 'aal2');
  const denied = await other.auth.mfa.unenroll({ factorId: f.id });
  assert.equal(denied.error.code, 'insufficient_aal');
  const un = await supabase.auth.mfa.unenroll({ factorId: f.id });
  assert.equal(un.error, null);
  assert.equal(un.data.id, f.id);
});

test('admin.mfa lists and deletes factors', async () => {
  const supabase = client();
  const { data } = await supabase.auth.signUp({ email: email('mfa-admin'), password: 'secret-pass-1' });
  await supabase.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'a' });
  const admin = createClient(mb.url, mb.serviceKey, { auth: { persistSession: false } }).auth.admin;
  const list = await admin.mfa.listFactors({ userId: data.user.id });
  assert.equal(list.error, null);
  assert.equal(list.data.factors.length, 1);
  const del = await admin.mfa.deleteFactor({ userId: data.user.id, id: list.data.factors[0].id });
  assert.equal(del.error, null);
});

test('anonymous users cannot enroll factors', async () => {
  const supabase = client();
  await supabase.auth.signInAnonymously();
  const { error } = await supabase.auth.mfa.enroll({ factorType: 'totp' });
  assert.equal(error.status, 403);
});
