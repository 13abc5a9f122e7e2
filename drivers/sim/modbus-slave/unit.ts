import { DoorstepError } from '../../../protocol/errors.js';
import { RegisterBank } from '../register-bank.js';
import { type Fault, FaultInjector } from './faults.js';

/** Basic device identification objects 0x00–0x02 (Modbus Application Protocol v1.1b3 §6.21). */
export interface DeviceIdentity {
  vendorName: string;
  productCode: string;
  revision: string;
}

export interface UnitCounters {
  /** Requests addressed to this unit (not broadcast) with a valid frame. */
  requests: number;
  /** Replies put on the wire (including faulty ones). */
  replies: number;
  /** Replies that were exceptions, natural or injected. */
  exceptions: number;
  /** Broadcast (unit 0) writes applied. */
  broadcasts: number;
}

export interface SimUnitOptions {
  unitId: number;
  bank?: RegisterBank;
  identity?: Partial<DeviceIdentity>;
  /** Seed of the unit's PRNG (fault probabilities, garbage bytes); defaults to the unit id. */
  seed?: number;
  faults?: Fault[];
}

/**
 * One simulated device: a unit id, its register bank, its identity, its faults and counters.
 * The same unit may be served by an RTU bus and a TCP server at once.
 */
export class SimUnit {
  /** Changed only through the slave that serves it (a device re-addressed by a master's write). */
  unitId: number;
  readonly bank: RegisterBank;
  readonly identity: DeviceIdentity;
  readonly faults: FaultInjector;
  readonly counters: UnitCounters = { requests: 0, replies: 0, exceptions: 0, broadcasts: 0 };

  constructor(options: SimUnitOptions) {
    if (!Number.isInteger(options.unitId) || options.unitId < 0 || options.unitId > 255) {
      throw new DoorstepError('SIM_ERR_CONFIG', {
        what: `unit ${options.unitId}`,
        reason: 'unit id must be 0–255',
      });
    }
    this.unitId = options.unitId;
    this.bank = options.bank ?? new RegisterBank();
    this.identity = {
      vendorName: options.identity?.vendorName ?? 'doorstep',
      productCode: options.identity?.productCode ?? 'SIM',
      revision: options.identity?.revision ?? '1.0',
    };
    this.faults = new FaultInjector(options.seed ?? options.unitId + 1);
    if (options.faults) this.faults.set(...options.faults);
  }

  /** Counters plus faults injected per mode, as a plain snapshot. */
  stats(): UnitCounters & { faults: Record<string, number> } {
    return { ...this.counters, faults: { ...this.faults.injected } };
  }
}
