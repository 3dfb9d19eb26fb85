// Starts and stops a `madbase dev` instance for the client suite, and gives tests what they
// need to reach it: URL, keys and a direct database connection for fixtures.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

/** The madbase binary: $MADBASE_BIN, or the newest cargo build output (so an old build in
 * ./target is not picked over a fresh one in $CARGO_TARGET_DIR, or the other way round). */
export function madbaseBin() {
  if (process.env.MADBASE_BIN) return process.env.MADBASE_BIN;
  const built = [process.env.CARGO_TARGET_DIR, resolve(here, '../../target')]
    .filter(Boolean)
    .map((t) => join(t, 'debug', 'madbase'))
    .filter((p) => existsSync(p))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (built.length) return built[0];
  throw new Error('madbase binary not found: run `cargo build -p madbase` or set MADBASE_BIN');
}

export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

function status(bin, dataDir) {
  try {
    const out = execFileSync(bin, ['status', '--data-dir', dataDir, '--output', 'json'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return JSON.parse(out.toString());
  } catch {
    return null;
  }
}

/** Starts `madbase dev` in a fresh data dir and waits until `madbase status` reports it. */
export async function startDev({ extraArgs = [], env = {} } = {}) {
  const bin = madbaseBin();
  const dataDir = mkdtempSync(join(tmpdir(), 'madbase-js-'));
  const port = await freePort();
  const child = spawn(bin, ['dev', '--data-dir', dataDir, '--port', String(port), ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // The suite signs in anonymously and by phone, which `madbase dev` leaves off by default.
    env: {
      MADBASE_AUTH_EXTERNAL_ANONYMOUS_USERS_ENABLED: 'true',
      MADBASE_AUTH_EXTERNAL_PHONE_ENABLED: 'true',
      ...process.env,
      ...env,
    },
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise((ok) => child.once('exit', (code) => ok(code)));
  const deadline = Date.now() + 90_000;
  let s = null;
  while (!s) {
    if (child.exitCode !== null) throw new Error(`madbase dev exited (${child.exitCode}):\n${log}`);
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`madbase dev did not start within 90 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
    s = status(bin, dataDir);
  }
  return {
    bin,
    dataDir,
    port,
    url: s.API_URL,
    anonKey: s.ANON_KEY,
    serviceKey: s.SERVICE_ROLE_KEY,
    jwtSecret: s.JWT_SECRET,
    dbUrl: s.DB_URL,
    pid: s.PID,
    log: () => log,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** What the runner exported for the test files. */
export function instance() {
  const need = ['MADBASE_URL', 'MADBASE_ANON_KEY', 'MADBASE_SERVICE_KEY', 'MADBASE_DB_URL'];
  for (const k of need) if (!process.env[k]) throw new Error(`${k} not set: run the suite with \`npm test\``);
  return {
    url: process.env.MADBASE_URL,
    anonKey: process.env.MADBASE_ANON_KEY,
    serviceKey: process.env.MADBASE_SERVICE_KEY,
    jwtSecret: process.env.MADBASE_JWT_SECRET,
    dbUrl: process.env.MADBASE_DB_URL,
    dataDir: process.env.MADBASE_DATA_DIR,
  };
}

/** Runs SQL directly against the instance's database (fixtures), as the superuser. */
export async function sql(text, params = []) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: instance().dbUrl });
  await client.connect();
  try {
    return await client.query(text, params);
  } finally {
    await client.end();
  }
}
