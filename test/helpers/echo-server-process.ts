import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * A trivial ws server in its own process (so what happens to the test process's descriptors
 * cannot touch it). Resolves with its URL once it listens.
 */
export async function startEchoServerProcess(): Promise<{ url: string; close(): Promise<void> }> {
  const code = `
    const { WebSocketServer } = require('ws');
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    wss.on('listening', () => console.log(wss.address().port));
    wss.on('connection', (ws) => ws.on('message', (m) => ws.send(m)));
    setTimeout(() => process.exit(0), 120000).unref();
    process.on('SIGTERM', () => process.exit(0));
  `;
  return startServerProcess(code, 'echo server');
}

/**
 * Runs `code` (CommonJS, cwd the repository) in its own Node process; it must print the port it
 * listens on as its first line. Resolves with its URL; close() ends it.
 */
export async function startServerProcess(code: string, what: string): Promise<{ url: string; close(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, ['-e', code], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => (child.kill('SIGTERM'), reject(new Error(`${what} did not start`))), 10_000);
    child.stdout!.once('data', (d: Buffer) => {
      clearTimeout(timer);
      resolve(Number(d.toString().trim()));
    });
  });
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
