// Computed fields and computed relationships through supabase-js: functions taking a table's
// row are selected, filtered and ordered like columns, and embedded like foreign keys.

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { anon, createFixture } from './rest-fixture.mjs';

before(createFixture);

test('a computed field is selected, filtered and ordered like a column', async () => {
  const { data, error } = await anon
    .from('js_rest_users')
    .select('id, label:js_rest_display')
    .like('js_rest_display', '%(away)')
    .order('js_rest_display', { ascending: false });
  assert.equal(error, null, JSON.stringify(error));
  assert.deepEqual(data, [
    { id: 5, label: 'eve smith (away)' },
    { id: 2, label: 'brian (away)' },
  ]);
});

test('a computed field is not part of *', async () => {
  const { data, error } = await anon.from('js_rest_users').select('*').eq('id', 1).single();
  assert.equal(error, null, JSON.stringify(error));
  assert.equal('js_rest_display' in data, false);
  assert.equal(data.username, 'ada');
});

test('a set-returning computed relationship embeds as an array, ROWS 1 as an object', async () => {
  const users = await anon
    .from('js_rest_users')
    .select('username, js_rest_authored(id)')
    .in('id', [2, 3])
    .order('id')
    .order('id', { referencedTable: 'js_rest_authored' });
  assert.equal(users.error, null, JSON.stringify(users.error));
  assert.deepEqual(users.data, [
    { username: 'brian', js_rest_authored: [{ id: 2 }, { id: 4 }] },
    { username: 'chloe', js_rest_authored: [{ id: 3 }] },
  ]);
  const channels = await anon
    .from('js_rest_channels')
    .select('slug, latest:js_rest_latest(message)')
    .order('id');
  assert.equal(channels.error, null, JSON.stringify(channels.error));
  assert.deepEqual(channels.data, [
    { slug: 'general', latest: { message: 'Good night' } },
    { slug: 'random', latest: { message: 'Orphan note' } },
    { slug: 'empty', latest: null },
  ]);
});

test('a computed relationship filters its parent with !inner', async () => {
  const { data, error } = await anon
    .from('js_rest_users')
    .select('id, js_rest_authored!inner(message)')
    .ilike('js_rest_authored.message', '%night%');
  assert.equal(error, null, JSON.stringify(error));
  assert.deepEqual(data, [{ id: 2, js_rest_authored: [{ message: 'Good night' }] }]);
});

test('an unknown field next to computed ones is still 42703 with a hint', async () => {
  const { error, status } = await anon.from('js_rest_users').select('js_rest_displey');
  assert.equal(status, 400);
  assert.equal(error.code, '42703');
  assert.equal(error.message, 'column js_rest_users.js_rest_displey does not exist');
});
