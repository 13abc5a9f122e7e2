import { randomUUID } from 'node:crypto';
import { hashPassword } from '../../common/password.js';
import type { CloudConfig } from '../config/schema.js';
import type { CloudStore, SiteNode } from '../store/port.js';

const LEVELS: SiteNode['level'][] = ['district', 'town', 'community'];

/**
 * Makes a fresh cloud usable: the district node, the configured site tree and the first admin.
 * Idempotent. An existing admin account is left as it is, so a password changed after the first
 * start is never reset by a restart with the config's original one.
 */
export async function bootstrapCloud(store: CloudStore, config: CloudConfig, now: number): Promise<void> {
  await store.upsertSite({ path: config.district.slug, level: 'district', name: config.district.name });
  for (const site of config.bootstrap.sites) {
    const level = LEVELS[site.path.split('/').length - 1] ?? 'community';
    await store.upsertSite({ path: site.path, level, name: site.name });
  }
  const admin = config.bootstrap.admin;
  if (admin && !(await store.getUserByName(admin.username))) {
    await store.createUser({
      id: randomUUID(),
      username: admin.username,
      passwordHash: admin.passwordHash ?? (await hashPassword(admin.password ?? '')),
      scope: config.district.slug,
      role: 'admin',
      displayName: 'bootstrap administrator',
      createdAt: now,
      disabled: false,
      failedLogins: 0,
    });
  }
}
