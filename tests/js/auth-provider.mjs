// A fake OAuth/OIDC provider on loopback and a second data plane (`madbase serve` on the suite's
// database) configured with it and with whatever auth settings a test file needs.
//
// The provider speaks OIDC (discovery, token, userinfo, JWKS with an RS256 key) and GitHub's
// API paths. Each authorization code maps to a profile the test registers, so one provider
// can stand for several accounts: `/token` hands out `at-<code>` and `/userinfo` (or
// `/api/v3/user`) answers the profile of that code.

import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync, createSign } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';
import { instance, freePort, madbaseBin } from './harness.mjs';

/** A private CA made now with the openssl CLI, and a server certificate it signed for
 * 127.0.0.1 and localhost: `{ caFile, key, cert }`, or null when openssl is missing. */
export function testCa(name = 'MadBase test CA') {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  const dir = mkdtempSync(join(tmpdir(), 'madbase-ca-'));
  const f = (n) => join(dir, n);
  const run = (...args) => execFileSync('openssl', args, { stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  run('req', ...ec, '-keyout', f('srv.key'), '-out', f('srv.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n');
  run('x509', '-req', '-in', f('srv.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-out', f('srv.pem'), '-days', '1', '-extfile', f('ext'));
  return { caFile: f('ca.pem'), key: readFileSync(f('srv.key')), cert: readFileSync(f('srv.pem')) };
}

/** The fake provider; with `tls: { key, cert }` it serves HTTPS. */
export async function startIdp({ tls } = {}) {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'idp-1', alg: 'RS256', use: 'sig' };
  const profiles = new Map();
  const port = await freePort();
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const handler = (req, res) => {
    const u = new URL(req.url, url);
    const json = (o, status = 200) => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(o));
    };
    const bearerCode = () => (req.headers.authorization ?? '').replace(/^Bearer at-/i, '');
    if (u.pathname === '/.well-known/openid-configuration') return json({
      issuer: url, authorization_endpoint: `${url}/authorize`, token_endpoint: `${url}/token`,
      userinfo_endpoint: `${url}/userinfo`, jwks_uri: `${url}/jwks`,
    });
    if (u.pathname === '/jwks') return json({ keys: [jwk] });
    if (u.pathname === '/token' || u.pathname === '/login/oauth/access_token') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const code = new URLSearchParams(body).get('code');
        json({ access_token: `at-${code}`, refresh_token: `rt-${code}`, token_type: 'bearer' });
      });
      return;
    }
    const p = profiles.get(bearerCode());
    if (!p) return json({ error: 'unknown code' }, 401);
    if (u.pathname === '/userinfo') return json(p.oidc ?? {});
    if (u.pathname === '/api/v3/user') return json(p.github ?? {});
    if (u.pathname === '/api/v3/user/emails') return json(p.githubEmails ?? []);
    res.statusCode = 404;
    res.end();
  };
  const server = tls ? createHttpsServer({ key: tls.key, cert: tls.cert }, handler) : createServer(handler);
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return {
    url,
    /** Registers what the provider reports for authorization code `code`. */
    profile(code, p) {
      profiles.set(code, p);
    },
    /** An RS256 ID token signed by the provider's key. */
    idToken(claims) {
      const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const head = enc({ alg: 'RS256', typ: 'JWT', kid: 'idp-1' });
      const body = enc(claims);
      const sig = createSign('RSA-SHA256').update(`${head}.${body}`).sign(rsa.privateKey).toString('base64url');
      return `${head}.${body}.${sig}`;
    },
    close: () => server.close(),
  };
}

/** Starts `madbase serve` on the suite's database with the OIDC and GitHub providers of `idp`
 * (when given) and `env` on top, on `port` (a free one by default, so a restart can keep its
 * URL); returns its URL, port, log and a stop function. */
export async function startServe({ idp, env = {}, port } = {}) {
  const mb = instance();
  port ??= await freePort();
  const url = `http://127.0.0.1:${port}`;
  let log = '';
  const providers = idp
    ? {
        MADBASE_AUTH_EXTERNAL_OIDC_CLIENT_ID: 'madbase-client',
        MADBASE_AUTH_EXTERNAL_OIDC_SECRET: 'madbase-secret',
        MADBASE_AUTH_EXTERNAL_OIDC_URL: idp.url,
        MADBASE_AUTH_EXTERNAL_GITHUB_CLIENT_ID: 'gh-client',
        MADBASE_AUTH_EXTERNAL_GITHUB_SECRET: 'gh-secret',
        MADBASE_AUTH_EXTERNAL_GITHUB_URL: idp.url,
      }
    : {};
  const child = spawn(madbaseBin(), ['serve'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      MADBASE_DATABASE_URL: mb.dbUrl,
      MADBASE_JWT_SECRET: mb.jwtSecret,
      MADBASE_LISTEN: `127.0.0.1:${port}`,
      MADBASE_API_EXTERNAL_URL: url,
      MADBASE_SITE_URL: 'http://localhost:3000',
      MADBASE_LOG_FORMAT: 'text',
      MADBASE_AUTH_MAILER_AUTOCONFIRM: 'true',
      ...providers,
      ...env,
    },
  });
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise((ok) => child.once('exit', ok));
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) throw new Error(`madbase serve exited:\n${log}`);
    try {
      if ((await fetch(`${url}/health`)).ok) {
        return {
          url,
          port,
          log: () => log,
          async stop() {
            child.kill('SIGTERM');
            await exited;
          },
        };
      }
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGTERM');
  throw new Error(`madbase serve did not start:\n${log}`);
}

/** A supabase-js client of `url` with its own in-memory session storage. */
export function clientOf(url, key = instance().anonKey, opts = {}) {
  const storage = new Map();
  return createClient(url, key, {
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
