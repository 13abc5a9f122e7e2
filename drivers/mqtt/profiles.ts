import { catalogue } from '../profiles/catalogue/index.js';
import type { MqttJsonProfile } from './profile.js';

/** Every built-in MQTT JSON profile by id: the `type: mqtt` files of the catalogue (drivers/profiles/catalogue). */
export const mqttProfiles: Readonly<Record<string, MqttJsonProfile>> = Object.freeze(
  Object.fromEntries([...catalogue.values()].flatMap((p) => (p.type === 'mqtt' ? [[p.id, p.profile]] : []))),
);
