import { setTimeout as sleep } from 'node:timers/promises';
import type { Link } from '../../../drivers/link/types.js';
import { withCrc } from '../../../drivers/modbus/crc16.js';

/** A hand-built RTU request: unit, PDU bytes, CRC appended (crc16 from drivers/modbus, not the sim's). */
export function rtuRequest(unitId: number, ...pdu: number[]): Buffer {
  return withCrc(Buffer.from([unitId, ...pdu]));
}

/** A hand-built RTU reply to compare with, same construction. */
export const rtuReply = rtuRequest;

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/**
 * How long to wait since the last byte: `quietMs` proves silence, but a reply that is expected and
 * has not started yet gets 2 s — on a loaded machine the first reply of a file can take longer than
 * 40 ms, and a reply collected by the next test instead would fail that one too.
 */
function waitLimitMs(options: { expectedBytes?: number }, received: number, quietMs: number): number {
  return options.expectedBytes !== undefined && received === 0 ? Math.max(quietMs, 2000) : quietMs;
}

/**
 * Writes `request` on `master` and collects what comes back until `expectedBytes` arrived or the
 * line stayed quiet for `quietMs` (used to prove silence: the result is then empty).
 */
export async function exchange(
  master: Link,
  request: Uint8Array,
  options: { expectedBytes?: number; quietMs?: number } = {},
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let received = 0;
  let lastChange = Date.now();
  const unsubscribe = master.onData((chunk) => {
    chunks.push(chunk);
    received += chunk.length;
    lastChange = Date.now();
  });
  try {
    await master.write(request);
    lastChange = Date.now();
    const quietMs = options.quietMs ?? 40;
    while (true) {
      await sleep(2);
      if (options.expectedBytes !== undefined && received >= options.expectedBytes) break;
      if (Date.now() - lastChange > waitLimitMs(options, received, quietMs)) break;
    }
    return Buffer.concat(chunks);
  } finally {
    unsubscribe();
  }
}

/** A raw TCP client for byte-level checks of the TCP slave. */
export async function connectRaw(port: number): Promise<{
  socket: import('node:net').Socket;
  send(bytes: Uint8Array, options?: { expectedBytes?: number; quietMs?: number }): Promise<Buffer>;
  close(): Promise<void>;
}> {
  const { connect } = await import('node:net');
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => {}); // a refused or reset connection shows as destroyed; tests assert on that
  let pending = Buffer.alloc(0);
  let lastChange = Date.now();
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    lastChange = Date.now();
  });
  return {
    socket,
    async send(bytes, options = {}) {
      pending = Buffer.alloc(0);
      socket.write(bytes);
      lastChange = Date.now();
      const quietMs = options.quietMs ?? 40;
      while (true) {
        await sleep(2);
        if (options.expectedBytes !== undefined && pending.length >= options.expectedBytes) break;
        if (Date.now() - lastChange > waitLimitMs(options, pending.length, quietMs) || socket.destroyed)
          break;
      }
      const out = pending;
      pending = Buffer.alloc(0);
      return out;
    },
    async close() {
      if (socket.destroyed) return;
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.destroy();
      });
    },
  };
}

/** MBAP frame: transaction id, protocol id 0, length, unit id, PDU (Modbus TCP guide §3.1.3). */
export function mbap(transactionId: number, unitId: number, ...pdu: number[]): Buffer {
  const out = Buffer.alloc(7 + pdu.length);
  out.writeUInt16BE(transactionId, 0);
  out.writeUInt16BE(0, 2);
  out.writeUInt16BE(pdu.length + 1, 4);
  out[6] = unitId;
  out.set(pdu, 7);
  return out;
}

/** Runs a client as an async child process (never execFileSync while a server runs in this process). */
export async function runChild(
  command: string,
  args: string[],
  timeoutMs = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { spawn } = await import('node:child_process');
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (exitCode) => resolve(exitCode));
    });
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
