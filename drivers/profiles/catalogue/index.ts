import { DoorstepError } from '../../../protocol/index.js';
import type { RegisterProfile } from '../types.js';
import { doorDiModule, doorMonitorState, ioModule8di8do } from './door.js';
import { gasFloatAbcd, gasFloatCdab, gasStatusWordInt16 } from './gas.js';
import { geomagneticParking, manholeTilt } from './geomagnetic.js';
import { pressureFloatLoop, pressureInt16Decimals } from './pressure.js';
import { smokeDiModule, smokeStatusRegister } from './smoke.js';

/** Every register-map profile shipped with doorstep, by id. A test checks nothing is left out. */
export const registerProfiles: ReadonlyMap<string, Readonly<RegisterProfile>> = new Map(
  [
    gasStatusWordInt16,
    gasFloatAbcd,
    gasFloatCdab,
    pressureInt16Decimals,
    pressureFloatLoop,
    smokeStatusRegister,
    smokeDiModule,
    doorDiModule,
    doorMonitorState,
    ioModule8di8do,
    geomagneticParking,
    manholeTilt,
  ].map((p) => [p.id, p]),
);

export function getRegisterProfile(id: string): Readonly<RegisterProfile> {
  const profile = registerProfiles.get(id);
  if (!profile) throw new DoorstepError('DRV_ERR_UNKNOWN_PROFILE', { profile: id });
  return profile;
}
