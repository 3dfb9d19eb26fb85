// The client suite's entry point: starts one `madbase dev`, runs every *.test.mjs file against
// it with node's test runner (one runner per file), stops it, and exits non-zero when a file
// failed.
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
// One runner per file, so a file that hangs (seen once: a test process idle, no sockets open)
// is stopped after FILE_TIMEOUT_MS instead of holding the whole suite; a file that fails or
// hangs runs once more, and the suite fails if it fails again.
const FILE_TIMEOUT_MS = 5 * 60 * 1000;
const env = {
  ...process.env,
  MADBASE_URL: dev.url,
  MADBASE_ANON_KEY: dev.anonKey,
  MADBASE_SERVICE_KEY: dev.serviceKey,
  MADBASE_JWT_SECRET: dev.jwtSecret,
  MADBASE_DB_URL: dev.dbUrl,
  MADBASE_DATA_DIR: dev.dataDir,
  MADBASE_BIN: dev.bin,
};
async function runFile(file) {
  const child = spawn(process.execPath, ['--experimental-websocket', '--no-warnings', '--test', '--test-concurrency=1', file], {
    cwd: here,
    stdio: 'inherit',
    env,
    detached: true, // its own process group, so a timeout stops the file's test process too
  });
  let timer;
  const timedOut = new Promise((ok) => {
    timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
      ok('timed out');
    }, FILE_TIMEOUT_MS);
  });
  const exited = new Promise((ok) => child.once('exit', (c) => ok(c ?? 1)));
  const result = await Promise.race([exited, timedOut]);
  clearTimeout(timer);
  return result;
}
let code = 1;
try {
  const failed = [];
  const retried = [];
  const what = (r) => (r === 'timed out' ? 'timed out' : `exit ${r}`);
  for (const file of files) {
    let result = await runFile(file);
    if (result !== 0) {
      console.error(`# ${file}: ${what(result)}; running it once more`);
      retried.push(`${file} (${what(result)})`);
      result = await runFile(file);
    }
    if (result !== 0) failed.push(`${file} (${what(result)})`);
  }
  if (retried.length) console.error(`# needed a second run: ${retried.join(', ')}`);
  console.error(failed.length ? `# failed: ${failed.join(', ')}` : `# all ${files.length} files passed`);
  code = failed.length ? 1 : 0;
} finally {
  await dev.stop();
}
if (code !== 0) console.error(`client suite failed; madbase dev log tail:\n${dev.log().split('\n').slice(-40).join('\n')}`);
process.exit(code);
