// Helpers shared by the auth client tests: isolated supabase-js clients, unique addresses,
// JWT decoding and signing, and the dev mailbox.

import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';
import { instance } from './harness.mjs';

const mb = instance();

export function client(opts = {}) {
  const storage = new Map();
  return createClient(mb.url, mb.anonKey, {
    auth: {
      persistSession: true,
      autoRefreshToken: false,
      detectSessionInUrl: false,
      storage: {
        getItem: (k) => storage.get(k) ?? null,
        setItem: (k, v) => storage.set(k, v),
        removeItem: (k) => storage.delete(k),
      },
      ...opts,
    },
  });
}

export const email = (tag = 'u') => `${tag}-${randomUUID().slice(0, 8)}@example.com`;

export function claimsOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

export function signHs256(claims, secret = mb.jwtSecret) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = enc({ alg: 'HS256', typ: 'JWT' });
  const body = enc(claims);
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

export async function mailbox(to) {
  const res = await fetch(`${mb.url}/auth/v1/_dev/mailbox?to=${encodeURIComponent(to)}`, {
    headers: { apikey: mb.serviceKey },
  });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()).messages;
}

