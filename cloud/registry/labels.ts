/** Words of the registry's exports, Chinese first (docs/architecture.md invariant 13). */
export type Lang = 'zh' | 'en';

const WORDS: Record<string, { zh: string; en: string }> = {
  sheet: { zh: '设备台账', en: 'Devices' },
  'col.code': { zh: '设备编码', en: 'Code' },
  'col.label': { zh: '位置', en: 'Location' },
  'col.building': { zh: '楼栋', en: 'Building' },
  'col.unit': { zh: '单元', en: 'Unit' },
  'col.floor': { zh: '楼层', en: 'Floor' },
  'col.kind': { zh: '类型', en: 'Kind' },
  'col.site': { zh: '所属社区', en: 'Site' },
  'col.gateway': { zh: '网关', en: 'Gateway' },
  'col.device': { zh: '网关内编号', en: 'Device id' },
  'col.profile': { zh: '设备型号', en: 'Profile' },
  'col.installedOn': { zh: '安装日期', en: 'Installed' },
  'col.status': { zh: '状态', en: 'Status' },
  'col.removedAt': { zh: '移除时间', en: 'Removed at' },
  'kind.smoke': { zh: '烟感', en: 'Smoke' },
  'kind.gas': { zh: '燃气', en: 'Gas' },
  'kind.water_pressure': { zh: '消防水压', en: 'Water pressure' },
  'kind.door': { zh: '门磁', en: 'Door' },
  'kind.geomagnetic': { zh: '地磁', en: 'Geomagnetic' },
  'status.active': { zh: '在用', en: 'Active' },
  'status.removed': { zh: '已移除', en: 'Removed' },
};

export function registryWord(key: string, lang: Lang): string | undefined {
  return WORDS[key]?.[lang];
}
