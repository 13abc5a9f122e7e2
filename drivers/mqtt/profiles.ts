import { STANDARD_POINTS, UNITS } from '../../protocol/index.js';
import { defineMqttJsonProfile, type MqttFieldDeclaration, type MqttJsonProfile } from './profile.js';

const D = STANDARD_POINTS.diagnostics;

/** Battery, signal and fault as most NB-IoT / Wi-Fi sensors publish them. */
const DIAGNOSTIC_FIELDS: MqttFieldDeclaration[] = [
  {
    field: 'battery',
    point: D.battery,
    type: 'number',
    unit: UNITS.percent,
    range: [0, 100],
    // GB 20517-2025 §5.11: low battery is a fault of its own; 20 % as for the wireless profiles.
    flagBelow: { point: D.batteryLow, below: 20 },
  },
  { field: 'rssi', point: D.signal, type: 'number', unit: UNITS.dbm, range: [-150, 0] },
  { field: 'fault', point: D.fault, type: 'boolean' },
  { field: 'tamper', point: D.tamper, type: 'boolean' },
];

/** Generic NB/Wi-Fi smoke alarm: `{"smoke":true,"battery":87,"rssi":-71,"ts":1700000000}` on `smoke/<id>/state`. */
export const jsonSmokeGeneric = defineMqttJsonProfile({
  id: 'json-smoke-generic',
  description: 'Generic NB-IoT / Wi-Fi smoke alarm publishing JSON',
  kind: 'smoke',
  topic: 'smoke/+/state',
  timestamp: { field: 'ts', unit: 's' },
  fields: [
    { field: 'smoke', point: STANDARD_POINTS.smoke.alarm, type: 'boolean', required: true },
    ...DIAGNOSTIC_FIELDS,
  ],
});

/** Generic Wi-Fi door contact: `{"open":false,"battery":64,"rssi":-58}` on `door/<id>/state`. */
export const jsonDoorGeneric = defineMqttJsonProfile({
  id: 'json-door-generic',
  description: 'Generic Wi-Fi door contact publishing JSON',
  kind: 'door',
  topic: 'door/+/state',
  fields: [
    { field: 'open', point: STANDARD_POINTS.door.open, type: 'boolean', required: true },
    ...DIAGNOSTIC_FIELDS,
  ],
});

/** Every built-in MQTT JSON profile by id; a test checks every export above is here. */
export const mqttProfiles: Readonly<Record<string, MqttJsonProfile>> = Object.freeze({
  [jsonSmokeGeneric.id]: jsonSmokeGeneric,
  [jsonDoorGeneric.id]: jsonDoorGeneric,
});
