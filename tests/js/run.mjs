// The client suite's entry point: starts one `madbase dev`, runs every *.test.mjs file against
// it with node's test runner, stops it, and exits with the runner's status.
//
// With MADBASE_URL, MADBASE_ANON_KEY, MADBASE_SERVICE_KEY, MADBASE_JWT_SECRET and
// MADBASE_DB_URL already set (the kind lane, or a deployed project), it runs against that
// endpoint instead of starting one.

import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startDev } from './harness.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv.slice(2);
const files = only.length ? only : readdirSync(here).filter((f) => f.endsWith('.test.mjs')).sort();

const external = ['MADBASE_URL', 'MADBASE_ANON_KEY', 'MADBASE_SERVICE_KEY', 'MADBASE_DB_URL'].every((k) => process.env[k]);
const dev = external
  ? {
      url: process.env.MADBASE_URL,
      anonKey: process.env.MADBASE_ANON_KEY,
      serviceKey: process.env.MADBASE_SERVICE_KEY,
      jwtSecret: process.env.MADBASE_JWT_SECRET ?? '',
      dbUrl: process.env.MADBASE_DB_URL,
      dataDir: '',
      bin: process.env.MADBASE_BIN ?? '',
      log: () => '(external endpoint: no local log)',
      stop: async () => {},
    }
  : await startDev();
let code = 1;
try {
  const child = spawn(process.execPath, ['--experimental-websocket', '--no-warnings', '--test', '--test-concurrency=1', ...files], {
    cwd: here,
    stdio: 'inherit',
    env: {
      ...process.env,
      MADBASE_URL: dev.url,
      MADBASE_ANON_KEY: dev.anonKey,
      MADBASE_SERVICE_KEY: dev.serviceKey,
      MADBASE_JWT_SECRET: dev.jwtSecret,
      MADBASE_DB_URL: dev.dbUrl,
      MADBASE_DATA_DIR: dev.dataDir,
      MADBASE_BIN: dev.bin,
    },
  });
  code = await new Promise((ok) => child.once('exit', (c) => ok(c ?? 1)));
} finally {
  await dev.stop();
}
if (code !== 0) console.error(`client suite failed; madbase dev log tail:\n${dev.log().split('\n').slice(-40).join('\n')}`);
process.exit(code);
