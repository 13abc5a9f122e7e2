/**
 * Annotated skeletons written by `doorstep profile new`: each is a valid profile (a test checks
 * it), so an installer edits something that already passes `doorstep profile check`.
 */
const REGISTER = `# A Modbus register profile (docs/profile.schema.json). Copy the map from the device's manual.
# Check it: doorstep profile check THIS_FILE   Try it: doorstep profile test THIS_FILE --dump DUMP.json
type: register
id: my-register-device
# Raise the version whenever the map changes: readings say which map decoded them.
version: 1
# smoke | gas | water_pressure | door | geomagnetic (geomagnetic also needs use: vehicle_presence | manhole_tilt)
kind: gas
title: Gas detector, concentration ×0.1 %LEL in input 0, alarm bits in input 1
modelledOn: the device family this map comes from (maker, model, firmware)
# The document the addresses were taken from: title, revision, page or table.
source: maker's Modbus manual, rev. ?, table ?
fields:
  # Standard points (gas, gas_al1, gas_al2, pressure, smoke, door_open, fault, battery …) take their
  # label, unit, range and poll class from the shared vocabulary; other points need name and unit.
  # table: holding | input (16-bit registers), coil | discrete (bits). Addresses count from 0
  # (register 30001 or 40001 in a manual is address 0).
  # type: uint16 | int16 | uint32 | int32 | float32 | float64
  # wordOrder: AB | BA (16-bit); ABCD | CDAB | BADC | DCBA (32/64-bit). value = raw × scale + offset
  - { kind: numeric, point: gas, table: input, address: 0, type: int16, scale: 0.1 }
  # A bit of a register (0 = least significant); invert: true for normally-closed contacts.
  - { kind: bit, point: gas_al1, table: input, address: 1, bit: 0 }
  - { kind: bit, point: gas_al2, table: input, address: 1, bit: 1 }
  - { kind: bit, point: fault, table: input, address: 1, bit: 2 }
  # Set points, read slowly: a point not in the vocabulary names itself.
  - { kind: numeric, point: set_point_low, name: Low alarm set point, nameZh: 低报设定值, unit: "%LEL", range: [0, 100], priority: diagnostic, table: holding, address: 0, type: uint16, scale: 0.1 }
  - { kind: numeric, point: set_point_high, name: High alarm set point, nameZh: 高报设定值, unit: "%LEL", range: [0, 100], priority: diagnostic, table: holding, address: 1, type: uint16, scale: 0.1 }
  # Other kinds: { kind: compare, op: eq|ne|ge|le, value: N } → boolean;
  # { kind: bits, bit: 4, width: 4 } → number; { kind: enum, values: { "0": 正常, "1": 预热 } } → code.
# While fault is true, measurements and alarm points are reported bad (uncertainWhen: uncertain).
quality: { badWhen: [fault] }
# Registers read once when the device comes online (unit code, decimal places), used by
# decimalsFrom / unitFrom of numeric fields:
# startup: [{ key: decimals, table: holding, address: 3, allowed: [0, 1, 2, 3] }]
# How \`doorstep provision scan\` recognises the device: registers that read back known values.
# signature: { table: holding, address: 9, values: [0x4744] }
# Decodes that contradict themselves mark readings uncertain and the device faulty:
# values outside range, and (for gas) an alarm bit with 0 %LEL. Add your own:
# checks: [{ alarm: gas_al2, point: gas, above: 0 }]
# Poll intervals per class (ms); the gateway configuration may override them per device.
intervals: { critical: 1000, normal: 5000, diagnostic: 30000 }
`;

const FRAME = `# A wireless receiver frame profile (docs/profile.schema.json).
type: frame
id: my-frame-device
version: 1
description: Wireless gas detector via a 433 MHz receiver
source: receiver manual, rev. ?, section ?
kind: smoke
# The detector type code carried in binary frames (1–255); unique per receiver bus.
detectorType: 17
hasTamper: false
# The receiver's frame layout. Without it, the bus codec's doorstep layout applies.
layout:
  codec: ascii
  start: "$"
  end: "\\r\\n"
  separator: ","
  # none | sum8 | xor8 | crc16-modbus | crc16-ccitt, sent after the mark as hex digits
  checksum: { kind: sum8, mark: "*" }
  # Names with a meaning: detector, state, battery, rssi, value, detector_type; others are kept for the log.
  # Types: uint | int | hex | alnum (ids such as D017). Only trailing fields may be optional.
  fields:
    - { name: receiver, type: uint }
    - { name: channel, type: uint }
    - { name: detector, type: alnum }
    - { name: state, type: uint }
    - { name: battery, type: uint }
points:
  smoke: {}
  fault: { name: Fault, nameZh: 故障, valueType: boolean, priority: normal }
# What each state code means (low 6 bits of the state field).
states:
  "0": { label: normal, set: { smoke: false, fault: false } }
  "1": { label: alarm, set: { smoke: true, fault: false } }
  "2": { label: fault, set: { smoke: false, fault: true }, bad: [smoke] }
`;

const MQTT = `# An MQTT JSON profile (docs/profile.schema.json).
type: mqtt
id: my-mqtt-device
version: 1
description: Wi-Fi smoke alarm publishing JSON
source: maker's MQTT interface description, rev. ?
kind: smoke
# One "+" level: the sensor's own id.
topic: smoke/+/state
timestamp: { field: ts, unit: s }
fields:
  - { field: smoke, point: smoke, type: boolean, required: true }
  - { field: battery, point: battery, type: number, flagBelow: { point: battery_low, below: 20 } }
  - { field: rssi, point: signal, type: number }
`;

export const SKELETONS = { register: REGISTER, frame: FRAME, mqtt: MQTT } as const;
