import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { withCrc } from '../../../drivers/modbus/crc16.js';

/**
 * Why doorstep's Modbus masters do their own framing (drivers/modbus/README.md): this test shows, with
 * the library itself, that modbus-serial 8 matches a late reply to the *next* request — a wrong value
 * returned as good data, the worst failure a safety system can have. If a future modbus-serial passes
 * this scenario, the test fails and says so: reconsider building on it then.
 */
const require = createRequire(import.meta.url);
const ModbusRTU = require('modbus-serial') as new (
  port: unknown,
) => {
  open(cb: (err?: Error) => void): void;
  setTimeout(ms: number): void;
  setID(id: number): void;
  readHoldingRegisters(address: number, count: number): Promise<{ data: number[] }>;
  close(cb: () => void): void;
};

/** A serial port stand-in that replies whenever the test says so (modbus-serial's custom-port contract). */
class ScriptedPort extends EventEmitter {
  isOpen = false;
  _transactionIdRead = 1;
  _transactionIdWrite = 1;
  writes: Buffer[] = [];
  open(cb: () => void) {
    this.isOpen = true;
    cb();
  }
  close(cb: () => void) {
    this.isOpen = false;
    cb();
  }
  write(data: Buffer) {
    this.writes.push(Buffer.from(data));
    this.emit('written', data);
  }
}

/** FC 03 reply of unit 1 carrying one register. */
const reply = (value: number) => withCrc(Buffer.from([1, 3, 2, value >> 8, value & 0xff]));

describe('modbus-serial (why it is not used for framing)', () => {
  it('hands a late reply to the next request as if it were its answer', async () => {
    const port = new ScriptedPort();
    const client = new ModbusRTU(port);
    await new Promise<void>((resolve, reject) => client.open((err) => (err ? reject(err) : resolve())));
    client.setID(1);
    client.setTimeout(50);
    // Request 1: the slave is slow; the client gives up.
    await assert.rejects(
      client.readHoldingRegisters(0, 1),
      (e: { errno?: string }) => e.errno === 'ETIMEDOUT',
    );
    // Request 2: the slave's late answer to request 1 (value 111) arrives first, then the real one (222).
    port.once('written', () => {
      setImmediate(() => port.emit('data', reply(111)));
      setTimeout(() => port.emit('data', reply(222)), 10);
    });
    const second = await client.readHoldingRegisters(0, 1);
    assert.deepEqual(second.data, [111], 'modbus-serial returned the stale value for request 2');
    await new Promise<void>((resolve) => client.close(() => resolve()));
  });
});
