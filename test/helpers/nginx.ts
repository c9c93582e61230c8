import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { now } from '../../src/util/clock.js';
import { freePort } from './coldstart.js';

/** Debian's nginx: on PATH, else where Debian puts it (/usr/sbin is not on every user's PATH). */
export function findNginx(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/usr/local/sbin'];
  return dirs.map((d) => join(d, 'nginx')).find((p) => existsSync(p)) ?? null;
}

/** One line nginx logged (its error log, notice level, read from its stderr) and when it arrived (epoch ms, util/clock.ts). */
export interface NginxLine {
  at: number;
  pid: number;
  level: string;
  text: string;
}

/** A reload that took effect: the new worker is up and every old worker stopped accepting (its shutdown timer runs). */
export interface Reload {
  /** When the master's "reconfiguring" line arrived. */
  signalledAt: number;
  /** When the last old worker's "gracefully shutting down" arrived: its worker_shutdown_timeout started before this. */
  tookEffectAt: number;
  oldWorkers: number[];
  newWorkers: number[];
}

export interface NginxProxy {
  port: number;
  /** ws://127.0.0.1:<port>/ws through the proxy. */
  url: string;
  dir: string;
  shutdownTimeoutMs: number;
  lines: NginxLine[];
  reloads: Reload[];
  /** The shell command that points the upstream at `backendPort` and has nginx reload: a trigger's command, or switchTo's. */
  switchCommand(backendPort: number): string;
  /** Runs switchCommand and waits until that reload took effect. */
  switchTo(backendPort: number, ms: number): Promise<Reload>;
  /** Resolves once the n-th reload (from 1) took effect (an nginx log line, not a poll); rejects on an nginx error or after `ms`. */
  reloaded(n: number, ms: number): Promise<Reload>;
  /** Stops nginx (fast shutdown: every connection closed), waits for its master to exit and removes its dir. */
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** The backend the upstream starts on. */
  backendPort: number;
  /** How long a reload's old worker keeps its connections before it cuts them. */
  shutdownTimeoutMs: number;
}

const q = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;

const upstreamConf = (port: number): string => `upstream backend { server 127.0.0.1:${port}; }\n`;

/**
 * nginx as a platform's proxy for a test: its whole state in a temp dir, one worker, the
 * WebSocket upgrade passed on, the client's port told to the backend (X-Client-Port) so a backend
 * connection joins wsrace's attempt. The upstream lives in its own file, so a rollout is "write
 * the file, nginx -s reload".
 */
function nginxConf(dir: string, port: number, shutdownTimeoutMs: number): string {
  return `daemon off;
worker_processes 1;
# A reload's old worker cuts the connections it still holds after this: the rollout's cut.
worker_shutdown_timeout ${shutdownTimeoutMs}ms;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log notice;
# The same lines on stderr: the test reads them as events (startup, reload, shutdown).
error_log stderr notice;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  include ${dir}/upstream.conf;
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Client-Port $remote_port;
      # Only the shutdown may cut a socket, never the proxy's idle timer.
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
    }
  }
}
`;
}

/**
 * nginx in the foreground under a guard shell: the guard reads its stdin (the test's pipe) and
 * stops nginx when it ends, so nginx goes with the test even if the test process dies; the
 * guard's exit is nginx's exit.
 */
const GUARD = `exec 3<&0
"$0" -e stderr -p "$1" -c "$1/nginx.conf" </dev/null 3<&- &
ngx=$!
{ while read -r _ <&3; do :; done; kill -TERM $ngx 2>/dev/null; } &
guard=$!
exec 3<&-
wait $ngx
code=$?
kill $guard 2>/dev/null
exit $code`;

const LINE = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[(\w+)\] (\d+)#\d+: (.*)$/;

/**
 * Starts nginx in front of `backendPort` on a free port of 127.0.0.1 and resolves once its worker
 * accepts. A port taken between the pick and nginx's bind (the machine is shared) is picked again.
 */
export async function startNginx(options: NginxOptions): Promise<NginxProxy> {
  const nginx = findNginx();
  if (nginx === null) throw new Error('nginx not found: this test needs Debian\'s nginx (apt-get install nginx; .ci/run installs it)');
  for (let tries = 1; ; tries++) {
    const dir = mkdtempSync(join(tmpdir(), 'wsrace-nginx-'));
    const port = await freePort();
    writeFileSync(join(dir, 'upstream.conf'), upstreamConf(options.backendPort));
    writeFileSync(join(dir, 'nginx.conf'), nginxConf(dir, port, options.shutdownTimeoutMs));
    const proxy = new RunningNginx(nginx, dir, port, options.shutdownTimeoutMs);
    try {
      await proxy.started(10_000);
      await connects(port);
      return proxy;
    } catch (err) {
      await proxy.stop();
      if (!(err instanceof Error && /Address already in use/.test(err.message)) || tries === 3) throw err;
    }
  }
}

/** One TCP connect to the proxy: it accepts (a refusal fails the start). */
function connects(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve();
    });
    s.on('error', reject);
  });
}

class RunningNginx implements NginxProxy {
  readonly url: string;
  readonly lines: NginxLine[] = [];
  readonly reloads: Reload[] = [];
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private workers: number[] = [];
  /** The reload under way: the old workers that have not yet said they are shutting down. */
  private pending: { signalledAt: number; oldWorkers: number[]; waiting: Set<number>; newWorkers: number[] } | null = null;
  private errors: string[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly nginx: string,
    readonly dir: string,
    readonly port: number,
    readonly shutdownTimeoutMs: number,
  ) {
    this.url = `ws://127.0.0.1:${port}/ws`;
    this.child = spawn('/bin/sh', ['-c', GUARD, nginx, dir], { stdio: ['pipe', 'ignore', 'pipe'] });
    this.exited = new Promise((resolve) => this.child.on('exit', () => resolve()));
    this.child.on('exit', () => this.changed());
    createInterface({ input: this.child.stderr! }).on('line', (l) => this.line(l));
  }

  switchCommand(backendPort: number): string {
    const file = join(this.dir, 'upstream.conf');
    return `printf %s ${q(upstreamConf(backendPort))} > ${q(`${file}.new`)} && mv ${q(`${file}.new`)} ${q(file)} && ${q(this.nginx)} -e stderr -p ${q(this.dir)} -c ${q(join(this.dir, 'nginx.conf'))} -s reload`;
  }

  async switchTo(backendPort: number, ms: number): Promise<Reload> {
    const n = this.reloads.length + (this.pending ? 1 : 0) + 1;
    await new Promise<void>((resolve, reject) => {
      const sh = spawn('/bin/sh', ['-c', this.switchCommand(backendPort)], { stdio: 'inherit' });
      sh.on('error', reject);
      sh.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`nginx -s reload exited with ${code}`))));
    });
    return this.reloaded(n, ms);
  }

  /** The master started its worker: nginx accepts (its socket was bound before). */
  started(ms: number): Promise<void> {
    return this.until(() => this.workers.length > 0, 'start its worker', ms).then(() => undefined);
  }

  reloaded(n: number, ms: number): Promise<Reload> {
    return this.until(() => this.reloads[n - 1], `finish reload ${n}`, ms);
  }

  private until<T>(done: () => T | undefined | false, what: string, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const value = done();
        const failed = this.errors.length > 0 || this.child.exitCode !== null || this.child.signalCode !== null;
        if (!value && !failed) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        if (value) resolve(value);
        else reject(new Error(`nginx did not ${what}: ${this.errors.join('; ') || 'it exited'}`));
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`nginx did not ${what} in ${ms} ms; its log:\n${this.lines.map((l) => l.text).join('\n')}`));
      }, ms);
      this.waiters.add(check);
      check();
    });
  }

  private changed(): void {
    for (const check of [...this.waiters]) check();
  }

  /** Follows the master and its workers through their log lines. */
  private line(raw: string): void {
    const m = LINE.exec(raw);
    if (m === null) return;
    const l: NginxLine = { at: now(), level: m[1], pid: Number(m[2]), text: m[3] };
    this.lines.push(l);
    if (l.level === 'emerg' || l.level === 'alert' || l.level === 'crit') this.errors.push(l.text);
    const started = /^start worker process (\d+)$/.exec(l.text);
    if (l.text === 'reconfiguring') this.pending = { signalledAt: l.at, oldWorkers: this.workers, waiting: new Set(this.workers), newWorkers: [] };
    else if (started && this.pending) this.pending.newWorkers.push(Number(started[1]));
    else if (started) this.workers = [...this.workers, Number(started[1])];
    else if (l.text === 'gracefully shutting down' && this.pending?.waiting.delete(l.pid) && this.pending.waiting.size === 0 && this.pending.newWorkers.length > 0) {
      const p = this.pending;
      this.reloads.push({ signalledAt: p.signalledAt, tookEffectAt: l.at, oldWorkers: p.oldWorkers, newWorkers: p.newWorkers });
      this.workers = p.newWorkers;
      this.pending = null;
    }
    this.changed();
  }

  async stop(): Promise<void> {
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
