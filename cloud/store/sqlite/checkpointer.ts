/**
 * WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside whichever commit
 * crosses `wal_autocheckpoint` pages — on the one connection the whole cloud shares, so an alarm's
 * commit could end up copying megabytes of scattered index pages into the database file and
 * fsyncing it (measured: ~40 % of the cloud's CPU time under bulk ingest, and the alarm p99 with
 * it). Here a worker thread with its own connection runs PASSIVE checkpoints: they never take the
 * write lock, so ingest keeps committing (to the WAL, fsynced — durability does not depend on the
 * checkpoint) while pages are copied on another thread.
 *
 * The main connection keeps a high `wal_autocheckpoint` as a safety net should this worker die.
 * The worker's code is plain CommonJS evaluated from a string, so it runs the same from sources
 * (tsx) and from the bundled build.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { statSync } = require('node:fs');
const Database = require(workerData.module);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
let stopped = false;
function walBytes() {
  try { return statSync(workerData.path + '-wal').size; } catch { return 0; }
}
function tick() {
  if (stopped) return;
  try {
    // PASSIVE: copies what it can without waiting for (or blocking) the writer. Once a pass has
    // copied every frame, the next writer starts the WAL over from its beginning.
    if (walBytes() >= workerData.minWalBytes) db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message || error) });
  }
  setTimeout(tick, workerData.intervalMs);
}
parentPort.on('message', (m) => {
  if (m === 'stop') {
    stopped = true;
    try { db.close(); } catch {}
    parentPort.close();
  }
});
tick();
`;

export interface CheckpointerOptions {
  path: string;
  /** How often to look at the WAL, ms. */
  intervalMs?: number;
  /** Checkpoint only once the WAL file is at least this large. */
  minWalBytes?: number;
  onError?: (message: string) => void;
}

export class WalCheckpointer {
  readonly #worker: Worker;
  #stopped: Promise<void> | undefined;

  constructor(options: CheckpointerOptions) {
    const module = createRequire(import.meta.url).resolve('better-sqlite3');
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        module,
        path: options.path,
        intervalMs: options.intervalMs ?? 50,
        minWalBytes: options.minWalBytes ?? 1024 * 1024,
      },
    });
    // Never keeps the process alive on its own; close() stops it.
    this.#worker.unref();
    this.#worker.on('message', (m: { error?: string }) => {
      if (m.error) options.onError?.(m.error);
    });
    this.#worker.on('error', (error) => options.onError?.(error.message));
  }

  /** Stops the worker after the checkpoint in progress (if any) and closes its connection. */
  stop(): Promise<void> {
    this.#stopped ??= new Promise<void>((resolve) => {
      this.#worker.once('exit', () => resolve());
      // Held open until it has exited: close() awaits this.
      this.#worker.ref();
      this.#worker.postMessage('stop');
      // A worker stuck in a busy wait is ended rather than waited for.
      setTimeout(() => void this.#worker.terminate(), 2000).unref();
    });
    return this.#stopped;
  }
}
