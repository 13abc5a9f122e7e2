import { z } from 'zod';
import { DoorstepError, issuesOf, type Reading, renderIssues } from '../../protocol/index.js';
import { AsciiFrameDecoder } from '../frames/ascii.js';
import { BinaryFrameDecoder } from '../frames/binary.js';
import { createFrameDecoder } from '../frames/index.js';
import { decodeFrameReport } from '../frames/profiles/decode.js';
import type { WirelessFrame } from '../frames/types.js';
import { decodeMqttMessage, matchTopic } from '../mqtt/decode.js';
import { decodeImageChecked, emptyImage, type RegisterImage } from './codec.js';
import type { LoadedProfile } from './file.js';

/**
 * Dumps: what a device holds or sends, written from its manual, with the readings doorstep must
 * decode from it — the golden test format of every profile (`doorstep profile test FILE --dump
 * DUMP.json`). One case per situation (normal, alarm, fault …); `expect` is optional, so a dump
 * without it simply shows what the profile makes of the bytes.
 *
 *   register: { "registers": { "holding": { "0": 1, "1": 123 }, "coil": { "0": true } } }
 *   frame:    { "frame": "$001,1,D017,1,87*5C\r\n" }  or  { "hex": "A5 0102 06 04 01 0F A6 0099 FFA0" }
 *   mqtt:     { "topic": "smoke/abc/state", "payload": { "smoke": true } }
 */
const Expected = z.union([
  z.number(),
  z.boolean(),
  z.string(),
  z
    .object({
      value: z.union([z.number(), z.boolean(), z.string()]),
      unit: z.string().optional(),
      quality: z.enum(['good', 'uncertain', 'bad']).optional(),
    })
    .strict(),
]);

const Table = z.record(
  z.string().regex(/^\d{1,5}$/, 'must be a register address 0–65535'),
  z.number().int().min(0).max(65535),
);
const Bits = z.record(z.string().regex(/^\d{1,5}$/, 'must be an address 0–65535'), z.boolean());

export const DumpCase = z
  .object({
    name: z.string().min(1),
    registers: z
      .object({
        holding: Table.optional(),
        input: Table.optional(),
        coil: Bits.optional(),
        discrete: Bits.optional(),
      })
      .strict()
      .optional(),
    frame: z.string().optional(),
    hex: z
      .string()
      .regex(/^[0-9A-Fa-f\s]+$/, 'must be hex bytes')
      .optional(),
    topic: z.string().optional(),
    payload: z.unknown().optional(),
    /** Point → value (quality good), or { value, unit?, quality? }. Points not listed must not appear. */
    expect: z.record(z.string(), Expected).optional(),
    /** Words that must appear among the implausibilities found (e.g. "gas_al2 is set"); [] = none allowed. */
    implausible: z.array(z.string()).optional(),
  })
  .strict();
export type DumpCase = z.infer<typeof DumpCase>;

export const Dump = z
  .object({
    profile: z.string().min(1),
    /** Gateway time stamped on the readings and MQTT clock checks (ms). */
    ts: z.number().int().nonnegative().default(1_765_000_000_000),
    cases: z.array(DumpCase).min(1),
  })
  .strict();
export type Dump = z.infer<typeof Dump>;

export interface CaseResult {
  name: string;
  readings: Reading[];
  /** Why some of the readings are not trusted, and other decode problems. */
  problems: string[];
  /** Differences from `expect` / `implausible`; empty when the case passes. */
  mismatches: string[];
}

/** Parses a dump document; throws DRV_ERR_PROFILE_FILE naming every problem with its path. */
export function parseDump(doc: unknown, file: string): Dump {
  const parsed = Dump.safeParse(doc);
  if (!parsed.success)
    throw new DoorstepError('DRV_ERR_PROFILE_FILE', {
      file,
      reason: `not a dump:\n${renderIssues(issuesOf(parsed.error))}`,
    });
  return parsed.data;
}

function imageOf(c: DumpCase): RegisterImage {
  const image = emptyImage();
  for (const table of ['holding', 'input'] as const)
    for (const [a, v] of Object.entries(c.registers?.[table] ?? {})) image[table].set(Number(a), v);
  for (const table of ['coil', 'discrete'] as const)
    for (const [a, v] of Object.entries(c.registers?.[table] ?? {})) image[table].set(Number(a), v);
  return image;
}

function decodeCase(
  loaded: LoadedProfile,
  c: DumpCase,
  ts: number,
): { readings: Reading[]; problems: string[] } {
  const device = 'dump';
  switch (loaded.type) {
    case 'register': {
      const profile = loaded.profile;
      if (!c.registers)
        return { readings: [], problems: ['a register profile needs "registers" in the case'] };
      const image = imageOf(c);
      // Start-up registers (unit code, decimals) are read from the dump like the device would answer.
      const startup: Record<string, number> = {};
      for (const s of profile.startup) {
        const v = image[s.table].get(s.address);
        if (v !== undefined) startup[s.key] = v;
      }
      try {
        const { readings, implausible } = decodeImageChecked(profile, image, { device, ts, startup });
        return { readings, problems: implausible.map((i) => i.reason) };
      } catch (error) {
        return { readings: [], problems: [(error as Error).message] };
      }
    }
    case 'frame': {
      const bytes =
        c.hex !== undefined
          ? Buffer.from(c.hex.replace(/\s+/g, ''), 'hex')
          : c.frame !== undefined
            ? Buffer.from(c.frame, 'latin1')
            : undefined;
      if (!bytes)
        return { readings: [], problems: ['a frame profile needs "frame" (text) or "hex" in the case'] };
      const codec = loaded.layout?.codec ?? (c.hex !== undefined ? 'binary' : 'ascii');
      const decoder =
        loaded.layout?.codec === 'ascii'
          ? new AsciiFrameDecoder({ layout: loaded.layout })
          : loaded.layout?.codec === 'binary'
            ? new BinaryFrameDecoder({ layout: loaded.layout })
            : createFrameDecoder(codec);
      const problems: string[] = [];
      decoder.onDiscard((d) => problems.push(d.error.message));
      const frames: WirelessFrame[] = [...decoder.push(bytes), ...decoder.flush()];
      const readings: Reading[] = [];
      for (const frame of frames) {
        if (frame.detectorType !== undefined && frame.detectorType !== loaded.profile.detectorType)
          problems.push(
            `detector type ${frame.detectorType}, the profile's is ${loaded.profile.detectorType}`,
          );
        const out = decodeFrameReport(loaded.profile, frame, device, ts);
        readings.push(...out.readings);
        problems.push(...out.problems, ...out.implausible.map((i) => i.reason));
      }
      if (frames.length === 0) problems.push('no valid frame in the dump');
      return { readings, problems };
    }
    case 'mqtt': {
      const sensor = 'dump';
      const topic = c.topic ?? loaded.profile.topic.replace('+', sensor);
      const payload = typeof c.payload === 'string' ? c.payload : JSON.stringify(c.payload ?? {});
      const id = matchTopic(loaded.profile.topic, topic) ?? sensor;
      const out = decodeMqttMessage(loaded.profile, topic, Buffer.from(payload), {
        devices: { [id]: device },
        now: ts,
      });
      if (!out.ok) return { readings: [], problems: [out.error.message] };
      return { readings: out.readings, problems: out.implausible.map((i) => i.reason) };
    }
  }
}

function same(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number')
    return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
  return a === b;
}

/** Decodes every case of a dump with a profile and compares with what the case expects. */
export function runDump(loaded: LoadedProfile, dump: Dump): CaseResult[] {
  return dump.cases.map((c) => {
    const { readings, problems } = decodeCase(loaded, c, dump.ts);
    const mismatches: string[] = [];
    if (c.expect) {
      const got = new Map(readings.map((r) => [r.point, r]));
      for (const [point, want] of Object.entries(c.expect)) {
        const r = got.get(point);
        const spec = typeof want === 'object' ? want : { value: want };
        if (!r) {
          mismatches.push(`${point}: expected ${JSON.stringify(spec.value)}, not decoded`);
          continue;
        }
        if (!same(r.value, spec.value))
          mismatches.push(
            `${point}: expected ${JSON.stringify(spec.value)}, decoded ${JSON.stringify(r.value)}`,
          );
        const quality = spec.quality ?? 'good';
        if (r.quality !== quality)
          mismatches.push(`${point}: expected quality ${quality}, decoded ${r.quality}`);
        if (spec.unit !== undefined && r.unit !== spec.unit)
          mismatches.push(`${point}: expected unit "${spec.unit}", decoded "${r.unit}"`);
      }
      for (const r of readings)
        if (!Object.hasOwn(c.expect, r.point))
          mismatches.push(`${r.point}: decoded ${JSON.stringify(r.value)}, not expected by the case`);
    }
    if (c.implausible) {
      if (c.implausible.length === 0 && problems.length > 0)
        mismatches.push(`expected no problem, found: ${problems.join('; ')}`);
      for (const words of c.implausible)
        if (!problems.some((p) => p.includes(words)))
          mismatches.push(
            `expected a problem mentioning "${words}", found: ${problems.join('; ') || 'none'}`,
          );
    }
    return { name: c.name, readings, problems, mismatches };
  });
}
