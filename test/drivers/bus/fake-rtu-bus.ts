import { MemoryLink } from '../../../drivers/link/memory.js';
import { rtu, scriptRtuSlave } from '../modbus/scripted-slave.js';

export type UnitMode = 'ok' | 'silent' | 'badCrc' | 'exception';

export interface FakeUnit {
  holding: number[];
  coils: boolean[];
  mode: UnitMode;
  /** Requests this unit received (whatever its mode). */
  requests: number;
}

/**
 * A tiny multi-drop RTU bus for scheduler tests: units answer reads of holding/input registers
 * and coils from arrays, apply writes, or misbehave per `mode`. Each reply goes out `replyDelayMs`
 * after the request, like a slave's turnaround.
 */
export function fakeRtuBus(link: MemoryLink, unitIds: number[], replyDelayMs = 2) {
  const units = new Map<number, FakeUnit>(
    unitIds.map((id) => [
      id,
      {
        holding: Array.from({ length: 64 }, (_, i) => id * 100 + i),
        coils: Array(64).fill(false),
        mode: 'ok',
        requests: 0,
      },
    ]),
  );
  const log: Array<{ unitId: number; fc: number }> = [];
  scriptRtuSlave(link, ({ unitId, pdu }) => {
    const unit = units.get(unitId);
    if (!unit) return undefined;
    unit.requests++;
    const fc = pdu[0]!;
    log.push({ unitId, fc });
    if (unit.mode === 'silent') return undefined;
    if (unit.mode === 'exception') return { bytes: rtu(unitId, [fc | 0x80, 0x02]), delayMs: replyDelayMs };
    const address = pdu.readUInt16BE(1);
    const quantity = pdu.readUInt16BE(3);
    let reply: Buffer;
    if (fc === 3 || fc === 4) {
      const body = Buffer.alloc(2 + quantity * 2);
      body[0] = fc;
      body[1] = quantity * 2;
      for (let i = 0; i < quantity; i++) body.writeUInt16BE(unit.holding[address + i] ?? 0, 2 + i * 2);
      reply = rtu(unitId, body);
    } else if (fc === 1 || fc === 2) {
      const bytes = Math.ceil(quantity / 8);
      const body = Buffer.alloc(2 + bytes);
      body[0] = fc;
      body[1] = bytes;
      for (let i = 0; i < quantity; i++) if (unit.coils[address + i]) body[2 + (i >> 3)]! |= 1 << (i & 7);
      reply = rtu(unitId, body);
    } else if (fc === 5) {
      unit.coils[address] = quantity === 0xff00;
      reply = rtu(unitId, pdu.subarray(0, 5));
    } else if (fc === 6) {
      unit.holding[address] = quantity;
      reply = rtu(unitId, pdu.subarray(0, 5));
    } else if (fc === 16) {
      for (let i = 0; i < quantity; i++) unit.holding[address + i] = pdu.readUInt16BE(6 + i * 2);
      reply = rtu(unitId, pdu.subarray(0, 5));
    } else if (fc === 15) {
      for (let i = 0; i < quantity; i++)
        unit.coils[address + i] = ((pdu[6 + (i >> 3)]! >> (i & 7)) & 1) === 1;
      reply = rtu(unitId, pdu.subarray(0, 5));
    } else {
      reply = rtu(unitId, [fc | 0x80, 0x01]);
    }
    if (unit.mode === 'badCrc') reply[reply.length - 1]! ^= 0xff;
    return { bytes: reply, delayMs: replyDelayMs };
  });
  return { units, log, unit: (id: number) => units.get(id)! };
}

/**
 * A link factory for the scheduler: each call makes a fresh MemoryLink pair with a fake bus on
 * the far end, as a replugged adapter would. `current` is the latest pair.
 */
export function memoryBusFactory(unitIds: number[], replyDelayMs = 2) {
  const made: Array<{ gateway: MemoryLink; device: MemoryLink; bus: ReturnType<typeof fakeRtuBus> }> = [];
  // Units (and their modes and registers) outlive a reconnect, like devices on a replugged line.
  let shared: ReturnType<typeof fakeRtuBus> | undefined;
  const factory = () => {
    const [gateway, device] = MemoryLink.pair(`bus${made.length}`);
    void device.open();
    const bus = fakeRtuBus(device, unitIds, replyDelayMs);
    if (shared) for (const [id, unit] of shared.units) bus.units.set(id, unit);
    shared ??= bus;
    made.push({ gateway, device, bus });
    return gateway;
  };
  return {
    factory,
    made,
    get current() {
      return made.at(-1)!;
    },
    unit: (id: number) => (shared ?? fakeRtuBus(new MemoryLink('unused'), [])).units.get(id)!,
    async closeAll() {
      for (const { gateway, device } of made) {
        await gateway.close();
        await device.close();
      }
    },
  };
}
