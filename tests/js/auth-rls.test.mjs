// A signed-in user's access token drives row level security through /rest/v1: auth.uid() is
// the token's `sub`, so each user reads and writes only their own rows.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from './harness.mjs';
import { client, email } from './auth-helpers.mjs';

test('auth.uid() in an RLS policy sees the signed-in user', async () => {
  await sql(`
    CREATE TABLE IF NOT EXISTS public.auth_rls_notes (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      owner uuid NOT NULL DEFAULT auth.uid(),
      body text NOT NULL
    );
    ALTER TABLE public.auth_rls_notes ENABLE ROW LEVEL SECURITY;
    DROP POLICY IF EXISTS own_notes ON public.auth_rls_notes;
    CREATE POLICY own_notes ON public.auth_rls_notes FOR ALL TO authenticated
      USING (owner = auth.uid()) WITH CHECK (owner = auth.uid());
    GRANT SELECT, INSERT ON public.auth_rls_notes TO authenticated;
    NOTIFY pgrst, 'reload schema';
  `);
  await new Promise((r) => setTimeout(r, 500));
  const alice = client();
  const bob = client();
  const a = await alice.auth.signUp({ email: email('rls-a'), password: 'secret-pass-1' });
  await bob.auth.signUp({ email: email('rls-b'), password: 'secret-pass-1' });
  const ins = await alice.from('auth_rls_notes').insert({ body: 'alice was here' }).select().single();
  assert.equal(ins.error, null, ins.error?.message);
  assert.equal(ins.data.owner, a.data.user.id);
  const mine = await alice.from('auth_rls_notes').select('*');
  assert.equal(mine.error, null);
  assert.ok(mine.data.length >= 1);
  assert.ok(mine.data.every((n) => n.owner === a.data.user.id));
  const theirs = await bob.from('auth_rls_notes').select('*');
  assert.equal(theirs.error, null);
  assert.equal(theirs.data.length, 0);
  const forged = await bob.from('auth_rls_notes').insert({ body: 'x', owner: a.data.user.id });
  assert.ok(forged.error, 'WITH CHECK refuses rows for another user');
});
