// Starts a real fake-provider and a real tollgated (on loopback, ephemeral
// ports, a fresh data directory) for the SDK tests, and stops them.
// Waiting is on the processes' own output lines, never on a sleep.
//
// TOLLGATE_BIN_DIR (set by CTest) holds the binaries;
// TOLLGATE_TEST_TIME_SCALE stretches every bound on something that must
// happen, as in the C++ harness.
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const binDir = process.env.TOLLGATE_BIN_DIR || join(process.cwd(), '..', 'bin');
const scale = Number(process.env.TOLLGATE_TEST_TIME_SCALE) >= 1 ? Number(process.env.TOLLGATE_TEST_TIME_SCALE) : 1;
export const scaled = (ms) => ms * scale;

// Keys the tests hand out; every one must stay out of tollgated's output.
export const keys = {
  research: 'sk-tg-research-0123456789abcdef',
  writer: 'sk-tg-writer-0123456789abcdef',
  limited: 'sk-tg-limited-0123456789abcdef',
};
const providerKeys = ['sk-ant-sdk-zzKEYzz', 'sk-openai-sdk-zzKEYzz'];

class Child {
  constructor(binary, args, env) {
    this.output = '';
    this.waiters = [];
    this.proc = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const take = (chunk) => {
      this.output += chunk.toString();
      this.waiters = this.waiters.filter((w) => !w());
    };
    this.proc.stdout.on('data', take);
    this.proc.stderr.on('data', take);
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve(code ?? signal)));
  }

  // The first output line matching `re`, within `ms` (scaled).
  line(re, ms = 10000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no line ${re} within ${ms} ms:\n${this.output}`)), scaled(ms));
      const check = () => {
        const m = this.output.split('\n').find((l) => re.test(l));
        if (m === undefined) return false;
        clearTimeout(timer);
        resolve(m);
        return true;
      };
      if (!check()) this.waiters.push(check);
      this.exited.then(() => {
        if (!check()) {
          clearTimeout(timer);
          reject(new Error(`exited before ${re}:\n${this.output}`));
        }
      });
    });
  }

  async stop() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM');
    return this.exited;
  }
}

// A running fake-provider + tollgated. `env` adds tollgated settings;
// `faults` are fake-provider --fault scripts.
export async function startDaemon({ env = {}, faults = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-sdk-'));
  const fake = new Child(join(binDir, 'fake-provider'), ['--port', '0', ...faults.flatMap((f) => ['--fault', f])], process.env);
  const fakeAddr = (await fake.line(/^listening /)).slice('listening '.length).trim();
  const keysFile = join(dir, 'agent-keys');
  writeFileSync(keysFile, [
    '# the SDK tests\' agents',
    `${keys.research} research`,
    `${keys.writer} writer`,
    `${keys.limited} limited models=auto,openai/gpt-4.1-mini`,
    '',
  ].join('\n'));
  // Only the sanitizers' options pass through from the test's environment
  // (the TSan run's suppressions of uninstrumented Debian libraries); every
  // tollgated setting is the test's own.
  const sanitizerEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(A|T|UB|L)SAN_OPTIONS$/.test(k)));
  const tollgated = new Child(join(binDir, 'tollgated'), [], {
    PATH: process.env.PATH,
    ...sanitizerEnv,
    ANTHROPIC_API_KEY: providerKeys[0],
    OPENAI_API_KEY: providerKeys[1],
    ANTHROPIC_BASE_URL: `http://${fakeAddr}`,
    OPENAI_BASE_URL: `http://${fakeAddr}/v1`,
    TOLLGATE_LISTEN: 'tcp://127.0.0.1:0',
    TOLLGATE_EVENTS: 'tcp://127.0.0.1:0',
    TOLLGATE_HTTP: '127.0.0.1:0',
    TOLLGATE_HTTP_ADMIN_TOKEN: 'admin-token-sdk-tests',
    TOLLGATE_DATA_DIR: join(dir, 'data'),
    TOLLGATE_AGENT_KEYS_FILE: keysFile,
    ...env,
  });
  const ready = await tollgated.line(/ ready requests=/);
  const field = (name) => ready.match(new RegExp(`${name}=(\\S+)`))[1];
  const http = field('http');
  return {
    fakeAddr,
    http,
    base: `http://${http}`,
    requests: field('requests'),
    keysFile,
    tollgated,
    fake,
    // GET a JSON status endpoint of the HTTP listener.
    async status(path) {
      const res = await fetch(`http://${http}/api/token-usage/${path}`);
      return res.json();
    },
    // Sets the fake's faults now (POST /_control/faults).
    async faults(list) {
      const res = await fetch(`http://${fakeAddr}/_control/faults`, { method: 'POST', body: JSON.stringify(list) });
      if (!res.ok) throw new Error(`faults: ${res.status} ${await res.text()}`);
    },
    // A call over ZeroMQ through tollctl: its JSON reply (or error).
    tollctl(args) {
      return new Promise((resolve) => {
        execFile(join(binDir, 'tollctl'), ['-e', field('requests'), '--json', ...args], (err, stdout, stderr) => {
          resolve({ code: err ? err.code : 0, stdout, stderr });
        });
      });
    },
    async stop() {
      // The SDKs keep their connections open (Node's fetch pools them for
      // 4 s), and tollgated's HTTP threads wait for an idle kept-open
      // connection to end before it exits: close the pool first (a new one
      // serves later requests), or each stop takes seconds.
      const pooled = Symbol.for('undici.globalDispatcher.1');
      const pool = globalThis[pooled];
      if (pool) {
        globalThis[pooled] = new pool.constructor();
        await pool.close();
      }
      await tollgated.stop();
      await fake.stop();
      rmSync(dir, { recursive: true, force: true });
      for (const k of [...Object.values(keys), ...providerKeys]) {
        if (tollgated.output.includes(k)) throw new Error(`tollgated logged a key: ${k}`);
      }
      // The sanitizer builds run these tests too: a report fails them.
      for (const [who, child] of [['tollgated', tollgated], ['fake-provider', fake]]) {
        if (/(ERROR|WARNING): (Address|Thread|Leak)Sanitizer|runtime error:/.test(child.output)) {
          throw new Error(`${who} printed a sanitizer report:\n${child.output}`);
        }
      }
    },
  };
}

// Sets agent `ai` budget for `provider` (PUT /api/token-usage/limits, the admin token).
export async function setLimit(daemon, ai, provider, limit) {
  const res = await fetch(`${daemon.base}/api/token-usage/limits/${ai}`, {
    method: 'PUT',
    headers: { Authorization: 'Bearer admin-token-sdk-tests', 'Content-Type': 'application/json' },
    body: JSON.stringify({ provider, limit }),
  });
  if (!res.ok) throw new Error(`set limit: ${res.status} ${await res.text()}`);
}

// The fake provider's stats (GET /_control/stats).
export async function fakeStats(daemon) {
  return (await fetch(`http://${daemon.fakeAddr}/_control/stats`)).json();
}

// Polls `probe` until it returns a truthy value, within `ms` (scaled).
export async function eventually(probe, ms = 5000, what = 'condition') {
  const deadline = Date.now() + scaled(ms);
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${scaled(ms)} ms`);
    await new Promise((r) => setImmediate(r));
  }
}

// A fetch whose first response is lost after the daemon answered it: the
// SDK sees a connection error and retries the same request.
export function fetchLosingFirstResponse() {
  let calls = 0;
  const wrapped = async (url, init) => {
    const res = await fetch(url, init);
    calls += 1;
    if (calls === 1) {
      await res.arrayBuffer();
      throw new TypeError('fetch failed: the response was lost on the way');
    }
    return res;
  };
  wrapped.calls = () => calls;
  return wrapped;
}
