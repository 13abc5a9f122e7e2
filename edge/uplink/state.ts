import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { DoorstepError } from '../../protocol/index.js';
import type { PersistedUplinkState, UplinkStateStore } from './types.js';

const Counts = z.object({ alarm: z.number(), event: z.number(), telemetry: z.number() }).strict();
const PersistedSchema = z
  .object({
    v: z.literal(1),
    gateway: z.string(),
    nextBatchSeq: z.number().int().positive(),
    inflight: z
      .object({
        batchSeq: z.number().int().positive(),
        sentAt: z.number().int().nonnegative(),
        seqs: z.array(z.number().int().positive()),
        counts: Counts,
        rawBytes: z.number().int().nonnegative(),
        body: z.string(),
      })
      .strict()
      .optional(),
  })
  .strict();

/**
 * batchSeq and the in-flight batch in a small JSON file beside the outbox (e.g.
 * `<data>/uplink-state.json`). Written before every new batch is sent, atomically: temp file,
 * fsync, rename, fsync of the directory (rename(2) is atomic; the directory fsync makes it
 * durable), so after power loss the file holds either the old or the new state, never half.
 * A missing file is a first start; an unreadable one throws EDGE_ERR_UPLINK_STATE and the uplink
 * continues from a clock-derived batchSeq (see Uplink.start) rather than stopping sync.
 */
export class FileUplinkState implements UplinkStateStore {
  readonly #path: string;
  constructor(path: string) {
    this.#path = path;
  }

  get description(): string {
    return this.#path;
  }

  load(): PersistedUplinkState | undefined {
    let text: string;
    try {
      text = readFileSync(this.#path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw this.#error(error);
    }
    try {
      return PersistedSchema.parse(JSON.parse(text)) as PersistedUplinkState;
    } catch (error) {
      throw this.#error(error);
    }
  }

  save(state: PersistedUplinkState): void {
    const tmp = `${this.#path}.tmp`;
    try {
      const fd = openSync(tmp, 'w', 0o600);
      try {
        writeSync(fd, JSON.stringify(state));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.#path);
      const dir = openSync(dirname(this.#path), 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
    } catch (error) {
      throw this.#error(error);
    }
  }

  #error(error: unknown): DoorstepError {
    return new DoorstepError(
      'EDGE_ERR_UPLINK_STATE',
      { file: this.#path, reason: (error as Error).message },
      { cause: error },
    );
  }
}

/** In memory: survives an Uplink restart inside one process (tests), not a process restart. */
export class MemoryUplinkState implements UplinkStateStore {
  #state: PersistedUplinkState | undefined;
  readonly description = 'memory';
  load(): PersistedUplinkState | undefined {
    return this.#state === undefined ? undefined : structuredClone(this.#state);
  }
  save(state: PersistedUplinkState): void {
    this.#state = structuredClone(state);
  }
}
