import { DoorstepError, scopeContains } from '../../protocol/index.js';
import type { Role } from '../store/port.js';
import type { UserPrincipal } from './authenticator.js';
import { roleAtLeast } from './roles.js';

/** 403 unless the principal's role is at least `needed` (viewer < duty < supervisor < admin). */
export function requireRole(principal: UserPrincipal, needed: Role, action: string): void {
  if (!roleAtLeast(principal.role, needed))
    throw new DoorstepError('CLOUD_ERR_FORBIDDEN', { role: principal.role, action, needed });
}

/** 403 unless `path` lies inside the principal's scope (docs/architecture.md invariant 11). */
export function requireInScope(principal: { scope: string }, path: string, what: string): void {
  if (!scopeContains(principal.scope, path))
    throw new DoorstepError('CLOUD_ERR_SCOPE', { what, path, scope: principal.scope });
}
