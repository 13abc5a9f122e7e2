import { Piscina } from 'piscina';
import { DEFAULT_SCRYPT_PARAMS, PasswordError, parsePasswordHash, type ScryptParams } from './password.js';
import type { PasswordTask } from './password-worker.js';

export interface PasswordPoolOptions {
  /** Worker threads hashing at once (each scrypt at N = 2^15 holds ~32 MiB while it runs). */
  threads: number;
  /** Checks waiting for a thread beyond those running; one more is refused (PasswordPoolBusy). */
  maxQueue: number;
}

/** The pool is full: the caller answers "busy, retry later" (the cloud: 503 with Retry-After). */
export class PasswordPoolBusy extends Error {
  constructor(readonly limit: number) {
    super(`all ${limit} password checks the pool holds are taken`);
    this.name = 'PasswordPoolBusy';
  }
}

/**
 * The worker file beside this module: password-worker.ts when running from source (tsx; workers
 * inherit the parent's `--import tsx`), password-worker.js in the built dist/common/.
 */
function workerFile(): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./password-worker${ext}`, import.meta.url).href;
}

/**
 * scrypt on a few worker threads of its own with a bounded queue. Password checks are the one
 * CPU- and memory-heavy thing a stranger can ask of the cloud; on libuv's thread pool (4 threads)
 * 32 parallel sign-ins made a gateway's gzip'd sync wait for seconds behind them. Here they wait
 * for each other only, and no more than `threads + maxQueue` are ever held: the next one is
 * refused at once (PasswordPoolBusy) instead of queueing without bound.
 */
export class PasswordPool {
  readonly limit: number;
  #pool: Piscina | undefined;
  #inFlight = 0;
  #closed = false;

  constructor(private readonly options: PasswordPoolOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1)
      throw new RangeError('PasswordPool: threads must be a positive integer');
    if (!Number.isInteger(options.maxQueue) || options.maxQueue < 0)
      throw new RangeError('PasswordPool: maxQueue must be a non-negative integer');
    this.limit = options.threads + options.maxQueue;
  }

  /** Checks running or waiting now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  async hash(plain: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): Promise<string> {
    if (typeof plain !== 'string' || plain.length === 0) throw new PasswordError('the password is empty');
    return (await this.#run({ op: 'hash', plain, params })) as string;
  }

  /** Constant-time check in a worker; false for a malformed hash (never reaches a worker). */
  async verify(plain: string, encoded: string): Promise<boolean> {
    if (!parsePasswordHash(encoded)) return false;
    return (await this.#run({ op: 'verify', plain, encoded })) as boolean;
  }

  async #run(task: PasswordTask): Promise<unknown> {
    if (this.#closed) throw new PasswordPoolBusy(0);
    if (this.#inFlight >= this.limit) throw new PasswordPoolBusy(this.limit);
    // Workers start on first use, so building the service starts no thread.
    this.#pool ??= new Piscina({
      filename: workerFile(),
      minThreads: 0,
      maxThreads: this.options.threads,
      maxQueue: Math.max(this.options.maxQueue, 1),
      idleTimeout: 60_000,
    });
    this.#inFlight += 1;
    try {
      return await this.#pool.run(task);
    } finally {
      this.#inFlight -= 1;
    }
  }

  /** Ends the threads once running checks are done; later calls are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.close();
  }
}
