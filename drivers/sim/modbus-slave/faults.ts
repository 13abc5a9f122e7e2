import { DoorstepError } from '../../../protocol/errors.js';

/**
 * Named fault modes of a simulated device (docs/architecture.md: "simulated devices with named fault modes"),
 * the ways real RS-485 devices misbehave in the field. Each fault can be permanent, limited to the
 * next N replies it affects (`times`), and/or random with a `probability` drawn from a seeded PRNG
 * so that a run is reproducible.
 *
 * - silence      the device did not hear the request: nothing executed, no reply.
 * - slow         reply after an extra `delayMs` (slow turnaround; the request is executed at once).
 * - bad_crc      RTU: the reply's CRC is inverted. TCP has no CRC: not applicable, never triggers.
 * - wrong_unit   the reply carries unit `unitId` (default: the next unit id) instead of its own.
 * - exception    answer exception `exceptionCode` instead of executing the request.
 * - short_frame  the reply is cut short by `dropBytes` bytes (at least 1 byte is still sent).
 * - garbage      `length` random bytes instead of the reply, or before it (`placement: 'before'`).
 */
export type FaultMode =
  | 'silence'
  | 'slow'
  | 'bad_crc'
  | 'wrong_unit'
  | 'exception'
  | 'short_frame'
  | 'garbage';

export const FAULT_MODES: readonly FaultMode[] = [
  'silence',
  'slow',
  'bad_crc',
  'wrong_unit',
  'exception',
  'short_frame',
  'garbage',
];

export type FaultSpec =
  | { mode: 'silence' }
  | { mode: 'slow'; delayMs: number }
  | { mode: 'bad_crc' }
  | { mode: 'wrong_unit'; unitId?: number }
  | { mode: 'exception'; exceptionCode: number }
  | { mode: 'short_frame'; dropBytes: number }
  | { mode: 'garbage'; length?: number; placement?: 'instead' | 'before' };

export type Fault = FaultSpec & {
  /** Affect only the next `times` replies this fault triggers on, then remove it. */
  times?: number;
  /** Trigger on each reply with this probability (0–1, default 1), drawn from the unit's seeded PRNG. */
  probability?: number;
};

/** What the faults decided for one reply. */
export interface FaultDecision {
  /** Modes that triggered, in pipeline order. Empty when the reply is clean. */
  triggered: FaultMode[];
  silence: boolean;
  delayMs: number;
  badCrc: boolean;
  wrongUnitId: number | undefined;
  exceptionCode: number | undefined;
  dropBytes: number;
  garbage: { bytes: Buffer; placement: 'instead' | 'before' } | undefined;
}

export interface FaultContext {
  unitId: number;
  /** 'tcp' never triggers bad_crc (no CRC in Modbus TCP). */
  transport: 'rtu' | 'tcp';
}

const CLEAN: FaultDecision = Object.freeze({
  triggered: [],
  silence: false,
  delayMs: 0,
  badCrc: false,
  wrongUnitId: undefined,
  exceptionCode: undefined,
  dropBytes: 0,
  garbage: undefined,
}) as FaultDecision;

/** mulberry32: a small, fast, seedable PRNG; good enough for fault dice and garbage bytes. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The active faults of one unit, switchable at run time, with per-mode counts of injections. */
export class FaultInjector {
  private active: Fault[] = [];
  private readonly random: () => number;
  readonly injected: Record<FaultMode, number> = {
    silence: 0,
    slow: 0,
    bad_crc: 0,
    wrong_unit: 0,
    exception: 0,
    short_frame: 0,
    garbage: 0,
  };

  constructor(seed = 1) {
    this.random = seededRandom(seed);
  }

  /** Replaces every active fault. */
  set(...faults: Fault[]): void {
    for (const fault of faults) validateFault(fault);
    this.active = faults.map((fault) => ({ ...fault }));
  }

  /** Adds a fault next to the active ones. */
  add(fault: Fault): void {
    validateFault(fault);
    this.active.push({ ...fault });
  }

  /** Removes the faults of one mode, or all. */
  clear(mode?: FaultMode): void {
    this.active = mode === undefined ? [] : this.active.filter((fault) => fault.mode !== mode);
  }

  list(): readonly Fault[] {
    return this.active.map((fault) => ({ ...fault }));
  }

  get isClean(): boolean {
    return this.active.length === 0;
  }

  /** Rolls every active fault once for the reply about to be made. */
  decide(context: FaultContext): FaultDecision {
    if (this.active.length === 0) return CLEAN;
    const decision: FaultDecision = { ...CLEAN, triggered: [] };
    const fired = new Set<FaultMode>();
    for (const fault of this.active) {
      if (fault.mode === 'bad_crc' && context.transport === 'tcp') continue;
      if (fault.probability !== undefined && this.random() >= fault.probability) continue;
      if (fault.times !== undefined) fault.times--;
      fired.add(fault.mode);
      switch (fault.mode) {
        case 'silence':
          decision.silence = true;
          break;
        case 'slow':
          decision.delayMs += fault.delayMs;
          break;
        case 'bad_crc':
          decision.badCrc = true;
          break;
        case 'wrong_unit':
          decision.wrongUnitId = fault.unitId ?? (context.unitId % 247) + 1;
          break;
        case 'exception':
          decision.exceptionCode = fault.exceptionCode;
          break;
        case 'short_frame':
          decision.dropBytes = Math.max(decision.dropBytes, fault.dropBytes);
          break;
        case 'garbage':
          decision.garbage = {
            bytes: this.randomBytes(fault.length ?? 8),
            placement: fault.placement ?? 'instead',
          };
          break;
      }
    }
    this.active = this.active.filter((fault) => fault.times === undefined || fault.times > 0);
    // Silence swallows everything else: nothing reaches the wire, so only silence is counted.
    decision.triggered = decision.silence ? ['silence'] : FAULT_MODES.filter((mode) => fired.has(mode));
    for (const mode of decision.triggered) this.injected[mode]++;
    return decision;
  }

  private randomBytes(length: number): Buffer {
    const bytes = Buffer.alloc(length);
    for (let i = 0; i < length; i++) bytes[i] = Math.floor(this.random() * 256);
    return bytes;
  }
}

function validateFault(fault: Fault): void {
  const problem = faultProblem(fault);
  if (problem) throw new DoorstepError('SIM_ERR_CONFIG', { what: `fault ${fault.mode}`, reason: problem });
}

function faultProblem(fault: Fault): string | undefined {
  if (!FAULT_MODES.includes(fault.mode)) return `unknown mode (one of ${FAULT_MODES.join(', ')})`;
  if (fault.times !== undefined && (!Number.isInteger(fault.times) || fault.times < 1))
    return 'times must be ≥ 1';
  if (fault.probability !== undefined && !(fault.probability >= 0 && fault.probability <= 1)) {
    return 'probability must be within 0–1';
  }
  switch (fault.mode) {
    case 'slow':
      return fault.delayMs >= 0 && Number.isFinite(fault.delayMs) ? undefined : 'delayMs must be ≥ 0';
    case 'wrong_unit':
      return fault.unitId === undefined ||
        (Number.isInteger(fault.unitId) && fault.unitId >= 0 && fault.unitId <= 255)
        ? undefined
        : 'unitId must be 0–255';
    case 'exception':
      return Number.isInteger(fault.exceptionCode) && fault.exceptionCode >= 1 && fault.exceptionCode <= 255
        ? undefined
        : 'exceptionCode must be 1–255';
    case 'short_frame':
      return Number.isInteger(fault.dropBytes) && fault.dropBytes >= 1 ? undefined : 'dropBytes must be ≥ 1';
    case 'garbage':
      return fault.length === undefined ||
        (Number.isInteger(fault.length) && fault.length >= 1 && fault.length <= 256)
        ? undefined
        : 'length must be 1–256';
    default:
      return undefined;
  }
}
