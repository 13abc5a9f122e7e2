import type { Role } from '../store/port.js';

/** viewer < duty < supervisor < admin: each role may do everything the ones below it may. */
export const ROLES: readonly Role[] = ['viewer', 'duty', 'supervisor', 'admin'];

export function roleRank(role: Role): number {
  return ROLES.indexOf(role);
}

export function roleAtLeast(role: Role, needed: Role): boolean {
  return roleRank(role) >= roleRank(needed);
}

/** The number of levels in a scope path: 1 district, 2 town, 3 community. */
export function scopeDepth(scope: string): number {
  return scope.split('/').length;
}
