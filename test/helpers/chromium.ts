// Headless Chromium driven over the DevTools protocol through a pipe (--remote-debugging-pipe:
// JSON messages separated by NUL on fds 3 and 4), so no WebSocket client or browser download
// is needed: Debian's /usr/bin/chromium and a fresh profile folder.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';

export const CHROMIUM = process.env.RECONVLA_CHROMIUM ?? '/usr/bin/chromium';

/** The flags of a quiet, self-contained headless browser with WebGPU on a software adapter. */
export function chromiumFlags(profileDir: string): string[] {
  return [
    '--headless=new', '--remote-debugging-pipe', `--user-data-dir=${profileDir}`, '--window-size=1100,560', '--hide-scrollbars',
    '--no-first-run', '--no-default-browser-check', '--disable-quic', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--disable-extensions', '--disable-default-apps', '--mute-audio', '--disable-dev-shm-usage',
    // WebGPU on Linux is behind this flag; without a GPU, Chromium's Dawn picks its bundled
    // SwiftShader (vendor google, architecture swiftshader, a fallback adapter). Measured with
    // Debian's Chromium 156: --disable-gpu does not remove it, and no ANGLE/Vulkan flag is needed.
    '--enable-unsafe-webgpu',
    ...(typeof process.getuid === 'function' && process.getuid() === 0 ? ['--no-sandbox'] : []),
    'about:blank',
  ];
}

interface Pending { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void; method: string }

export class Chromium {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private buffer = '';
  private listeners: ((msg: { method: string; params: Record<string, unknown>; sessionId?: string }) => void)[] = [];
  readonly stderr: string[] = [];

  private constructor(private readonly proc: ChildProcess, private readonly profileDir: string) {
    const out = proc.stdio[4] as Readable;
    out.setEncoding('utf8');
    out.on('data', (chunk: string) => {
      this.buffer += chunk;
      let end: number;
      while ((end = this.buffer.indexOf('\0')) >= 0) {
        const msg = JSON.parse(this.buffer.slice(0, end)) as { id?: number; result?: Record<string, unknown>; error?: { message: string }; method?: string; params?: Record<string, unknown>; sessionId?: string };
        this.buffer = this.buffer.slice(end + 1);
        if (msg.id !== undefined) {
          const p = this.pending.get(msg.id);
          this.pending.delete(msg.id);
          if (msg.error) p?.reject(new Error(`${p.method}: ${msg.error.message}`));
          else p?.resolve(msg.result ?? {});
        } else if (msg.method) {
          for (const l of this.listeners) l({ method: msg.method, params: msg.params ?? {}, ...(msg.sessionId ? { sessionId: msg.sessionId } : {}) });
        }
      }
    });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (s: string) => { this.stderr.push(s); });
    proc.on('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`chromium exited (${code}) during ${p.method}; stderr: ${this.stderr.join('').slice(-2000)}`));
      this.pending.clear();
    });
  }

  static launch(extraFlags: string[] = []): Chromium {
    const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'reconvla-chromium-'));
    const proc = spawn(CHROMIUM, [...chromiumFlags(profileDir), ...extraFlags], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    return new Chromium(proc, profileDir);
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      (this.proc.stdio[3] as Writable).write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
  }

  on(listener: (msg: { method: string; params: Record<string, unknown>; sessionId?: string }) => void): void { this.listeners.push(listener); }

  /** A new tab attached in flat mode: returns its session id. */
  async newPage(url: string): Promise<string> {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' }) as { targetId: string };
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true }) as { sessionId: string };
    await this.send('Runtime.enable', {}, sessionId);
    await this.send('Page.enable', {}, sessionId);
    await this.send('Page.navigate', { url }, sessionId);
    return sessionId;
  }

  /** Evaluates an expression in the page (promises awaited) and returns its JSON value. */
  async evaluate<T>(sessionId: string, expression: string): Promise<T> {
    const r = await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, sessionId) as { result: { value?: T }; exceptionDetails?: { text: string; exception?: { description?: string } } };
    if (r.exceptionDetails) throw new Error(`page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  async screenshot(sessionId: string, file: string): Promise<void> {
    const { data } = await this.send('Page.captureScreenshot', { format: 'png' }, sessionId) as { data: string };
    fs.writeFileSync(file, Buffer.from(data, 'base64'));
  }

  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => { if (this.proc.exitCode !== null) resolve(); else this.proc.once('exit', () => resolve()); });
    try { await Promise.race([this.send('Browser.close'), exited]); } catch { /* already gone */ }
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    fs.rmSync(this.profileDir, { recursive: true, force: true });
  }
}
