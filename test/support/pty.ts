import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A pair of connected pseudo-terminals made by socat; what is written to one end is read at the other. */
export interface PtyPair {
  /** Path of one end (e.g. the "gateway" side). */
  a: string;
  /** Path of the other end (e.g. the "device" side). */
  b: string;
  close(): Promise<void>;
}

/**
 * Starts `socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B` and waits until both links exist.
 * Ptys ignore the baud rate: wire-time behaviour must be simulated by the peer.
 */
export async function openPtyPair(): Promise<PtyPair> {
  const dir = mkdtempSync(join(tmpdir(), 'doorstep-pty-'));
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  const child: ChildProcess = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 5000;
  while (!(existsSync(a) && existsSync(b))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`socat did not create the pty pair: ${stderr || 'timeout'}`);
    }
    await sleep(10);
  }
  return {
    a,
    b,
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
