import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeImage } from '../../../drivers/profiles/codec.js';
import { defineProfile } from '../../../drivers/profiles/define.js';
import { encodePoints } from '../../../drivers/profiles/encode.js';
import { DATA_TYPES, type NumericType, type WordOrder } from '../../../drivers/profiles/types.js';

/**
 * encode(decode(x)) = x for every data type in every byte order of its legality table: a register
 * image of random words decodes to a value, and encoding that value gives back the same words.
 * (Starting from the words, not from numbers, covers every bit pattern a device can send; NaN
 * float patterns are the one exception — a device sending NaN is refused by the decoder.)
 */
function profileFor(type: NumericType, wordOrder: WordOrder) {
  return defineProfile({
    id: 'prop',
    kind: 'gas',
    title: 't',
    modelledOn: 'm',
    points: [{ point: 'x', name: 'x', valueType: 'number', priority: 'normal' }],
    fields: [{ kind: 'numeric', point: 'x', table: 'holding', address: 10, type, wordOrder }],
  });
}

describe('encode(decode(x)) round-trips for every data type and byte order', () => {
  for (const [type, spec] of Object.entries(DATA_TYPES) as [
    NumericType,
    (typeof DATA_TYPES)[NumericType],
  ][]) {
    for (const order of spec.orders) {
      it(`${type} ${order}`, () => {
        const profile = profileFor(type, order);
        fc.assert(
          fc.property(
            fc.array(fc.integer({ min: 0, max: 0xffff }), {
              minLength: spec.registers,
              maxLength: spec.registers,
            }),
            (words) => {
              const image = {
                coil: new Map(),
                discrete: new Map(),
                holding: new Map<number, number>(),
                input: new Map(),
              };
              for (const [i, w] of words.entries()) image.holding.set(10 + i, w);
              let readings: ReturnType<typeof decodeImage>;
              try {
                readings = decodeImage(profile, image, { device: 'd', ts: 0 });
              } catch {
                // NaN patterns (float types only) are refused, never decoded.
                assert.ok(spec.float, `${type} refused ${words}`);
                return;
              }
              const value = readings[0]!.value as number;
              const back = encodePoints(profile, { x: value });
              const got = words.map((_, i) => back.holding.get(10 + i));
              if (spec.float) {
                // Floats are decoded to the precision the reading carries (float32: 7 significant
                // digits; both: 1e-6 absolute): re-encoding that value must decode to it again.
                const again = decodeImage(profile, back, { device: 'd', ts: 0 })[0]!.value;
                assert.ok(again === value, `${words}: ${value} → ${got} → ${again}`);
              } else assert.deepEqual(got, words, `value ${value}`);
            },
          ),
          { numRuns: 300 },
        );
      });
    }
  }

  it('the byte orders differ as documented for 0x12345678', () => {
    const words: Record<string, number[]> = {
      ABCD: [0x1234, 0x5678],
      CDAB: [0x5678, 0x1234],
      BADC: [0x3412, 0x7856],
      DCBA: [0x7856, 0x3412],
    };
    for (const [order, w] of Object.entries(words)) {
      const profile = profileFor('uint32', order as WordOrder);
      const image = {
        coil: new Map(),
        discrete: new Map(),
        holding: new Map([
          [10, w[0]!],
          [11, w[1]!],
        ]),
        input: new Map(),
      };
      assert.equal(decodeImage(profile, image, { device: 'd', ts: 0 })[0]!.value, 0x12345678, order);
    }
  });
});
