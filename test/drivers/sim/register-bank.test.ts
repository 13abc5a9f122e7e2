import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegisterBank, type RegisterChange } from '../../../drivers/sim/index.js';

describe('RegisterBank', () => {
  it('stores uint16/int16 and answers undefined for unmapped addresses', () => {
    const bank = new RegisterBank();
    bank.setUint16('holding', 0, 0xffff).setInt16('holding', 1, -2);
    assert.equal(bank.getUint16('holding', 0), 0xffff);
    assert.equal(bank.getInt16('holding', 1), -2);
    assert.equal(bank.getUint16('holding', 1), 0xfffe);
    assert.equal(bank.getUint16('holding', 2), undefined);
    assert.equal(bank.read('holding', 0, 3), undefined, 'a read touching an unmapped address fails (→ 02)');
    assert.deepEqual(bank.read('holding', 0, 2), [0xffff, 0xfffe]);
  });

  it('lays out 32-bit values as ABCD (high word first) or CDAB (word-swapped)', () => {
    const bank = new RegisterBank();
    bank.setUint32('input', 0, 0x12345678, 'ABCD').setUint32('input', 2, 0x12345678, 'CDAB');
    assert.deepEqual(bank.read('input', 0, 4), [0x1234, 0x5678, 0x5678, 0x1234]);
    assert.equal(bank.getUint32('input', 2, 'CDAB'), 0x12345678);
    bank.setInt32('input', 4, -100000, 'CDAB');
    assert.equal(bank.getInt32('input', 4, 'CDAB'), -100000);
    assert.deepEqual(bank.read('input', 4, 2), [0x7960, 0xfffe]);
    bank.setFloat32('holding', 10, 21.5, 'ABCD').setFloat32('holding', 12, 21.5, 'CDAB');
    assert.deepEqual(bank.read('holding', 10, 4), [0x41ac, 0x0000, 0x0000, 0x41ac]);
    assert.equal(bank.getFloat32('holding', 12, 'CDAB'), 21.5);
  });

  it('sets and reads single bits of a register and bit tables', () => {
    const bank = new RegisterBank();
    bank
      .setRegisterBit('input', 3, 11, true)
      .setRegisterBit('input', 3, 0, true)
      .setRegisterBit('input', 3, 0, false);
    assert.equal(bank.getUint16('input', 3), 1 << 11);
    assert.equal(bank.getRegisterBit('input', 3, 11), true);
    bank.setBits('discrete', 0, [true, false]);
    assert.equal(bank.getBit('discrete', 0), true);
    assert.equal(bank.getBit('discrete', 1), false);
    assert.equal(bank.getBit('discrete', 2), undefined);
  });

  it('refuses values that do not fit their type with SIM_ERR_VALUE and changes nothing', () => {
    const bank = new RegisterBank();
    assert.throws(() => bank.setUint16('holding', 0, 70000), { code: 'SIM_ERR_VALUE' });
    assert.throws(() => bank.setInt16('holding', 0, 40000), { code: 'SIM_ERR_VALUE' });
    assert.throws(() => bank.setUint32('holding', 0, -1), { code: 'SIM_ERR_VALUE' });
    assert.throws(() => bank.setUint16('holding', 0, 1.5), { code: 'SIM_ERR_VALUE' });
    assert.throws(() => bank.setUint32('holding', 0xffff, 1), { code: 'SIM_ERR_VALUE' });
    assert.throws(() => bank.setRegisterBit('holding', 0, 16, true), { code: 'SIM_ERR_VALUE' });
    assert.equal(bank.size('holding'), 0);
  });

  it('master writes to unmapped addresses fail whole; with unmappedAsZero they map', () => {
    const strict = new RegisterBank().map('holding', 0, 2);
    assert.equal(strict.write('holding', 1, [5, 6], 'master'), false);
    assert.deepEqual(strict.read('holding', 0, 2), [0, 0]);
    const lenient = new RegisterBank({ unmappedAsZero: true });
    assert.deepEqual(lenient.read('holding', 500, 2), [0, 0]);
    assert.equal(lenient.write('holding', 500, [7], 'master'), true);
    assert.equal(lenient.getUint16('holding', 500), 7);
    strict.unmap('holding', 0);
    assert.equal(strict.isMapped('holding', 0), false);
  });

  it('tells listeners what changed and who changed it, until unsubscribed', () => {
    const bank = new RegisterBank().map('holding', 0, 4);
    const seen: RegisterChange[] = [];
    const off = bank.onChange((change) => seen.push(change));
    bank.setUint32('holding', 0, 0x00010002);
    bank.write('holding', 2, [9, 8], 'master');
    off();
    bank.setUint16('holding', 0, 1);
    assert.deepEqual(seen, [
      { table: 'holding', address: 0, values: [1, 2], source: 'local' },
      { table: 'holding', address: 2, values: [9, 8], source: 'master' },
    ]);
  });
});
