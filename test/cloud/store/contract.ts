/**
 * The one contract every CloudStore keeps (model: aedes-persistence's abstract test), run against
 * memory, SQLite and PostgreSQL: `cloudStoreContract('sqlite', () => harness)`. The parts live in
 * contract-*.ts; each gets a fresh, migrated store per test.
 */
import { afterEach, beforeEach, describe } from 'node:test';
import type { CloudStore } from '../../../cloud/store/port.js';
import { accountsContract } from './contract-accounts.js';
import { deviceRegistryContract } from './contract-device-registry.js';
import { healthAndScopeContract } from './contract-health.js';
import { ingestContract } from './contract-ingest.js';
import { maintenanceContract } from './contract-maintenance.js';
import { registryContract } from './contract-registry.js';
import { signInContract } from './contract-signin.js';
import { timeBoundsContract } from './contract-time-bounds.js';

/** Storage for one test: fresh on open(); reopen() closes and opens the same storage (a restart). */
export interface StoreHarness {
  open(): Promise<CloudStore>;
  /** Undefined when the storage does not outlive its instance (memory). */
  reopen?: (store: CloudStore) => Promise<CloudStore>;
  dispose(): Promise<void>;
}

export interface ContractContext {
  /** The store under test (fresh per test). */
  store(): CloudStore;
  /** Persistence across close/reopen, when the adapter has any. */
  reopen: ((store: CloudStore) => Promise<CloudStore>) | undefined;
  persistent: boolean;
}

export function cloudStoreContract(
  name: string,
  makeHarness: () => Promise<StoreHarness>,
  options: { persistent: boolean },
): void {
  describe(`CloudStore contract: ${name}`, () => {
    let harness: StoreHarness | undefined;
    let current: CloudStore | undefined;
    beforeEach(async () => {
      harness = await makeHarness();
      current = await harness.open();
    });
    afterEach(async () => {
      await current?.close().catch(() => {});
      await harness?.dispose();
      harness = undefined;
      current = undefined;
    });
    const ctx: ContractContext = {
      store: () => current!,
      reopen: undefined,
      persistent: options.persistent,
    };
    // reopen is known only once a harness exists; wrap it so sub-suites can test for it lazily.
    Object.defineProperty(ctx, 'reopen', {
      get: () =>
        harness?.reopen &&
        (async (store: CloudStore) => {
          current = await harness!.reopen!(store);
          return current;
        }),
    });
    registryContract(ctx);
    accountsContract(ctx);
    signInContract(ctx);
    deviceRegistryContract(ctx);
    ingestContract(ctx);
    healthAndScopeContract(ctx);
    maintenanceContract(ctx);
    timeBoundsContract(ctx);
  });
}
