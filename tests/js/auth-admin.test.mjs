// supabase.auth.admin.* with the service_role key: users (pagination headers as auth-js parses
// them), create/update/delete, factors, generateLink and invites; non-admins are refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '@supabase/supabase-js';
import { instance, sql } from './harness.mjs';
import { client, email, mailbox } from './auth-helpers.mjs';

const mb = instance();
const admin = createClient(mb.url, mb.serviceKey, { auth: { persistSession: false, autoRefreshToken: false } }).auth.admin;

test('createUser returns the bare user with metadata, confirmation and ban', async () => {
  const addr = email('admin-create');
  const { data, error } = await admin.createUser({
    email: addr,
    password: 'secret-pass-1',
    email_confirm: true,
    user_metadata: { name: 'Grace' },
    app_metadata: { plan: 'pro' },
  });
  assert.equal(error, null);
  assert.equal(data.user.email, addr);
  assert.ok(data.user.email_confirmed_at);
  assert.equal(data.user.user_metadata.name, 'Grace');
  assert.equal(data.user.app_metadata.plan, 'pro');
  assert.equal(data.user.app_metadata.provider, 'email');
  const signin = await client().auth.signInWithPassword({ email: addr, password: 'secret-pass-1' });
  assert.equal(signin.error, null);
  const dup = await admin.createUser({ email: addr, password: 'secret-pass-1' });
  assert.equal(dup.error.status, 422);
  assert.equal(dup.error.code, 'email_exists');
  const banned = await admin.createUser({ email: email('banned'), password: 'secret-pass-1', email_confirm: true, ban_duration: '24h' });
  assert.ok(banned.data.user.banned_until);
  const refused = await client().auth.signInWithPassword({ email: banned.data.user.email, password: 'secret-pass-1' });
  assert.equal(refused.error.code, 'user_banned');
});

test('listUsers paginates with X-Total-Count and the Link header auth-js parses', async () => {
  for (let i = 0; i < 3; i++) await admin.createUser({ email: email('page'), password: 'secret-pass-1' });
  const total = (await sql('SELECT count(*)::int AS n FROM auth.users')).rows[0].n;
  // auth-js reads one digit of the page number, so keep the page count below 10.
  const per = Math.max(2, Math.ceil(total / 5));
  const { data, error } = await admin.listUsers({ page: 1, perPage: per });
  assert.equal(error, null);
  assert.equal(data.users.length, per);
  assert.equal(data.total, total);
  assert.equal(data.nextPage, 2);
  assert.equal(data.lastPage, Math.ceil(total / per));
  const raw = await fetch(`${mb.url}/auth/v1/admin/users?page=1&per_page=${per}`, {
    headers: { apikey: mb.serviceKey, authorization: `Bearer ${mb.serviceKey}` },
  });
  assert.equal(raw.headers.get('x-total-count'), String(data.total));
  assert.equal(
    raw.headers.get('link'),
    `</admin/users?page=2&per_page=${per}>; rel="next", </admin/users?page=${Math.ceil(total / per)}&per_page=${per}>; rel="last"`,
  );
  assert.equal((await raw.json()).aud, 'authenticated');
});

test('getUserById, updateUserById (ban none, metadata, password), deleteUser hard and soft', async () => {
  const { data: created } = await admin.createUser({ email: email('admin-upd'), password: 'secret-pass-1', email_confirm: true });
  const id = created.user.id;
  const got = await admin.getUserById(id);
  assert.equal(got.data.user.id, id);
  const upd = await admin.updateUserById(id, { user_metadata: { a: 1 }, app_metadata: { role2: 'x' }, password: 'secret-pass-2', ban_duration: 'none' });
  assert.equal(upd.error, null);
  assert.equal(upd.data.user.user_metadata.a, 1);
  assert.equal(upd.data.user.app_metadata.role2, 'x');
  assert.equal((await client().auth.signInWithPassword({ email: created.user.email, password: 'secret-pass-2' })).error, null);
  const missing = await admin.getUserById('00000000-0000-0000-0000-000000000001');
  assert.equal(missing.error.status, 404);
  assert.equal(missing.error.code, 'user_not_found');
  const soft = await admin.deleteUser(id, true);
  assert.equal(soft.error, null);
  const { rows } = await sql('SELECT deleted_at IS NOT NULL AS d, email FROM auth.users WHERE id = $1', [id]);
  assert.equal(rows[0].d, true);
  assert.equal(rows[0].email, null);
  const { data: other } = await admin.createUser({ email: email('admin-del'), password: 'secret-pass-1' });
  assert.equal((await admin.deleteUser(other.user.id)).error, null);
  assert.equal((await sql('SELECT count(*)::int AS n FROM auth.users WHERE id = $1', [other.user.id])).rows[0].n, 0);
});

test('generateLink for signup, magiclink, recovery, invite and email change', async () => {
  const addr = email('genlink');
  const s = await admin.generateLink({ type: 'signup', email: addr, password: 'secret-pass-1' });
  assert.equal(s.error, null);
  assert.equal(s.data.user.email, addr);
  assert.equal(s.data.properties.verification_type, 'signup');
  assert.match(s.data.properties.email_otp, /^\d{6}$/);
  assert.match(s.data.properties.action_link, /\/auth\/v1\/verify\?token=/);
  const v = await client().auth.verifyOtp({ token_hash: s.data.properties.hashed_token, type: 'signup' });
  assert.equal(v.error, null);
  for (const type of ['magiclink', 'recovery']) {
    const r = await admin.generateLink({ type, email: addr });
    assert.equal(r.error, null, type);
    assert.equal(r.data.properties.verification_type, type);
  }
  const ec = await admin.generateLink({ type: 'email_change_new', email: addr, newEmail: email('genlink-new') });
  assert.equal(ec.error, null);
  assert.equal(ec.data.properties.verification_type, 'email_change');
  const inv = await admin.generateLink({ type: 'invite', email: email('genlink-inv') });
  assert.equal(inv.error, null);
  assert.equal(inv.data.properties.verification_type, 'invite');
  const bad = await admin.generateLink({ type: 'nope', email: addr });
  assert.ok(bad.error);
});

test('inviteUserByEmail sends the invitation, which signs the user in', async () => {
  const addr = email('invite');
  const { data, error } = await admin.inviteUserByEmail(addr, { data: { team: 'core' } });
  assert.equal(error, null);
  assert.equal(data.user.email, addr);
  assert.ok(data.user.invited_at);
  const [msg] = (await mailbox(addr)).slice(-1);
  assert.equal(msg.kind, 'invite');
  const v = await client().auth.verifyOtp({ email: addr, token: msg.token, type: 'invite' });
  assert.equal(v.error, null, v.error?.message);
  assert.ok(v.data.user.email_confirmed_at);
});

test('admin endpoints refuse the anon key and user tokens with not_admin', async () => {
  const anonAdmin = createClient(mb.url, mb.anonKey, { auth: { persistSession: false } }).auth.admin;
  const { error } = await anonAdmin.listUsers();
  assert.equal(error.status, 403);
  assert.equal(error.code, 'not_admin');
  const { data } = await client().auth.signUp({ email: email('notadmin'), password: 'secret-pass-1' });
  const res = await fetch(`${mb.url}/auth/v1/admin/users`, {
    headers: { apikey: mb.anonKey, authorization: `Bearer ${data.session.access_token}` },
  });
  assert.equal(res.status, 403);
});

test('admin.signOut ends the sessions of a user token', async () => {
  const { data } = await client().auth.signUp({ email: email('adminsignout'), password: 'secret-pass-1' });
  const { error } = await admin.signOut(data.session.access_token, 'global');
  assert.equal(error, null);
  const res = await fetch(`${mb.url}/auth/v1/user`, {
    headers: { apikey: mb.anonKey, authorization: `Bearer ${data.session.access_token}` },
  });
  assert.equal(res.status, 403);
});
