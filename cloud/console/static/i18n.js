// @ts-check
/**
 * Words of the console, zh-CN first (the duty staff's language), English as the switch. Stage and
 * feedback-cause labels come from the server (cloud/alarms/contract.ts), so there is one source.
 */

/** @type {Record<string, {zh: string, en: string}>} */
const WORDS = {
  app: { zh: '社区消防安全 · 值守台', en: 'Neighbourhood safety · duty console' },
  signIn: { zh: '登录', en: 'Sign in' },
  signOut: { zh: '退出', en: 'Sign out' },
  username: { zh: '用户名', en: 'User name' },
  password: { zh: '密码', en: 'Password' },
  signingIn: { zh: '正在登录…', en: 'Signing in…' },
  accounts: { zh: '账户', en: 'Accounts' },
  changePassword: { zh: '修改密码', en: 'Change password' },
  currentPassword: { zh: '当前密码', en: 'Current password' },
  newPassword: { zh: '新密码', en: 'New password' },
  passwordRule: {
    zh: '至少 12 个字符，不含用户名；修改后其他已登录的会话全部退出。',
    en: 'At least 12 characters, not containing the user name; your other sessions end.',
  },
  passwordChanged: {
    zh: '密码已修改，已结束其他会话 {n} 个',
    en: 'Password changed; {n} other session(s) ended',
  },
  passwordReset: { zh: '密码已重置', en: 'Password reset' },
  resetPassword: { zh: '重置密码', en: 'Reset password' },
  myTokens: { zh: '我的 API 令牌', en: 'My API tokens' },
  apiTokens: { zh: 'API 令牌', en: 'API tokens' },
  noTokens: { zh: '没有 API 令牌', en: 'No API tokens' },
  tokenLabel: { zh: '名称', en: 'Label' },
  tokenScope: { zh: '角色与范围', en: 'Role and scope' },
  created: { zh: '创建时间', en: 'Created' },
  expires: { zh: '到期时间', en: 'Expires' },
  lastUsed: { zh: '最近使用', en: 'Last used' },
  never: { zh: '从未', en: 'never' },
  token_active: { zh: '有效', en: 'Active' },
  token_expired: { zh: '已过期', en: 'Expired' },
  token_revoked: { zh: '已吊销', en: 'Revoked' },
  revoke: { zh: '吊销', en: 'Revoke' },
  revoked: { zh: '已吊销', en: 'Revoked' },
  usersInScope: { zh: '辖区用户', en: 'Users in scope' },
  role: { zh: '角色', en: 'Role' },
  scope: { zh: '范围', en: 'Scope' },
  userEnabled: { zh: '正常', en: 'Enabled' },
  userDisabled: { zh: '已停用', en: 'Disabled' },
  userLocked: { zh: '已锁定至', en: 'Locked until' },
  disable: { zh: '停用', en: 'Disable' },
  enable: { zh: '启用', en: 'Enable' },
  endSessions: { zh: '结束全部会话', en: 'End all sessions' },
  sessionsEnded: { zh: '已结束会话 {n} 个', en: '{n} session(s) ended' },
  role_viewer: { zh: '查看员', en: 'Viewer' },
  role_duty: { zh: '值班员', en: 'Duty officer' },
  role_supervisor: { zh: '督办员', en: 'Supervisor' },
  role_admin: { zh: '管理员', en: 'Administrator' },
  accountAudit: { zh: '账户操作记录', en: 'Account audit trail' },
  noEntries: { zh: '暂无记录', en: 'No entries' },
  'audit_user.created': { zh: '创建用户', en: 'user created' },
  'audit_user.disabled': { zh: '停用用户', en: 'user disabled' },
  'audit_user.enabled': { zh: '启用用户', en: 'user enabled' },
  'audit_password.changed': { zh: '修改密码', en: 'password changed' },
  'audit_password.reset': { zh: '重置密码', en: 'password reset' },
  'audit_sessions.ended': { zh: '结束会话', en: 'sessions ended' },
  'audit_token.created': { zh: '创建令牌', en: 'token created' },
  'audit_token.revoked': { zh: '吊销令牌', en: 'token revoked' },
  board: { zh: '报警台', en: 'Alarm board' },
  sites: { zh: '站点与设备', en: 'Sites & devices' },
  district: { zh: '区级总览', en: 'District view' },
  bigScreen: { zh: '大屏', en: 'Big screen' },
  exitBig: { zh: '退出大屏', en: 'Leave big screen' },
  language: { zh: 'English', en: '中文' },
  mute: { zh: '静音', en: 'Mute' },
  unmute: { zh: '取消静音', en: 'Unmute' },
  enableSound: { zh: '点击任意处启用报警声音', en: 'Click anywhere to enable alarm sound' },
  live: { zh: '实时', en: 'Live' },
  reconnecting: { zh: '连接中断，正在重连…', en: 'Connection lost, reconnecting…' },
  stale: {
    zh: '断线 · 数据可能已过期，正在重连…',
    en: 'Disconnected · board may be out of date, reconnecting…',
  },
  onDuty: { zh: '当前值班', en: 'On duty' },
  nobodyOnDuty: { zh: '无排班信息', en: 'No roster' },
  next: { zh: '下一班', en: 'next' },
  openAlarms: { zh: '未办结报警', en: 'Open alarms' },
  noAlarms: { zh: '当前没有未办结的报警', en: 'No open alarms' },
  search: { zh: '搜索 位置/设备/类型', en: 'Search location/device/type' },
  registry: { zh: '设备台账', en: 'Device register' },
  registrySearch: { zh: '搜索 编码/位置/楼栋', en: 'Search code/location/building' },
  registryCount: { zh: '台设备', en: 'devices' },
  registryPlace: { zh: '楼栋 单元 楼层', en: 'Building unit floor' },
  exportCsv: { zh: '导出 CSV', en: 'Export CSV' },
  exportXlsx: { zh: '导出 Excel', en: 'Export Excel' },
  inUse: { zh: '在用', en: 'In use' },
  removed: { zh: '已移除', en: 'Removed' },
  kind_smoke: { zh: '烟感', en: 'Smoke' },
  kind_gas: { zh: '燃气', en: 'Gas' },
  kind_water_pressure: { zh: '消防水压', en: 'Water pressure' },
  kind_door: { zh: '门磁', en: 'Door' },
  kind_geomagnetic: { zh: '地磁', en: 'Geomagnetic' },
  allStages: { zh: '全部阶段', en: 'All stages' },
  severity: { zh: '级别', en: 'Severity' },
  type: { zh: '类型', en: 'Type' },
  location: { zh: '位置', en: 'Location' },
  site: { zh: '社区', en: 'Community' },
  stage: { zh: '阶段', en: 'Stage' },
  age: { zh: '时长', en: 'Age' },
  raisedAt: { zh: '发生时间', en: 'Raised' },
  state: { zh: '状态', en: 'State' },
  overdue: { zh: '超时', en: 'Overdue' },
  ack: { zh: '确认', en: 'Acknowledge' },
  feedback: { zh: '反馈', en: 'Feedback' },
  close: { zh: '办结', en: 'Close' },
  shelve: { zh: '搁置', en: 'Shelve' },
  unshelve: { zh: '取消搁置', en: 'Unshelve' },
  'return-to-service': { zh: '恢复运行', en: 'Return to service' },
  outOfService: { zh: '停用检修', en: 'Out of service' },
  occurrences: { zh: '发生次数', en: 'Occurrences' },
  occurredTimes: { zh: '共发生 {n} 次', en: 'occurred {n} times' },
  history: { zh: '历次发生', en: 'Occurrences' },
  clearedAt: { zh: '恢复', en: 'cleared' },
  lastActivity: { zh: '最近处置', en: 'Last activity' },
  noActivity: { zh: '尚无人处置', en: 'nobody yet' },
  reset: { zh: '复位', en: 'Reset' },
  details: { zh: '详情', en: 'Details' },
  cause: { zh: '原因', en: 'Cause' },
  note: { zh: '处置说明', en: 'What was done' },
  reason: { zh: '搁置理由', en: 'Reason' },
  hours: { zh: '搁置时长（小时，≤24）', en: 'Hours (≤ 24)' },
  submit: { zh: '提交', en: 'Submit' },
  cancel: { zh: '取消', en: 'Cancel' },
  done: { zh: '已完成', en: 'Done' },
  refused: { zh: '服务器拒绝', en: 'Refused by the server' },
  acked: { zh: '已确认', en: 'Acknowledged' },
  unacked: { zh: '未确认', en: 'Unacknowledged' },
  shelved: { zh: '已搁置', en: 'Shelved' },
  test: { zh: '测试', en: 'Test' },
  active: { zh: '报警中', en: 'Active' },
  cleared: { zh: '已恢复', en: 'Cleared' },
  latched: { zh: '待复位', en: 'Latched' },
  unackedCritical: { zh: '未确认紧急报警共', en: 'unacknowledged critical alarms:' },
  ackThis: { zh: '确认此报警', en: 'Acknowledge this alarm' },
  newCriticalHint: { zh: '按 Shift+A 确认此报警', en: 'Shift+A acknowledges this alarm' },
  closeNeeds: { zh: '办结前还需', en: 'Before closing' },
  need_condition_active: { zh: '等待报警恢复', en: 'wait for the alarm to clear' },
  need_condition_latched: { zh: '先复位', en: 'reset it first' },
  need_not_acknowledged: { zh: '确认', en: 'acknowledge it' },
  need_no_feedback: { zh: '填写反馈', en: 'record feedback' },
  notAllowedNow: { zh: '此报警当前不能执行', en: 'Not possible for this alarm now' },
  dismiss: { zh: '知道了', en: 'Dismiss' },
  auditTrail: { zh: '处置记录', en: 'Audit trail' },
  by: { zh: '操作人', en: 'By' },
  at: { zh: '时间', en: 'At' },
  action: { zh: '动作', en: 'Action' },
  truncated: {
    zh: '部分社区未结报警过多：每个社区最多显示 100 条，按严重程度排列，其余已计数',
    en: 'Some communities have too many open alarms: at most 100 each are shown, most severe first; the rest are counted',
  },
  shortcuts: { zh: '快捷键', en: 'Keyboard shortcuts' },
  shortcutsText: {
    zh: 'J/K 或 ↓/↑ 选择 · Enter 跳到操作按钮 · A 确认 · F 反馈 · C 办结 · S 搁置 · R 复位 · Shift+A 确认横幅中的报警 · M 静音 · / 搜索 · G 然后 B/S/D/U 切换页面 · L 切换语言 · ? 帮助 · Esc 关闭',
    en: 'J/K or ↓/↑ select · Enter go to the actions · A acknowledge · F feedback · C close · S shelve · R reset · Shift+A acknowledge the banner’s alarm · M mute · / search · G then B/S/D/U pages · L language · ? help · Esc close',
  },
  // site tree and devices
  tree: { zh: '站点树', en: 'Site tree' },
  deviceHealth: { zh: '设备状态', en: 'Device health' },
  filterAll: { zh: '全部', en: 'All' },
  offline: { zh: '离线', en: 'Offline' },
  online: { zh: '在线', en: 'Online' },
  // A device that answers, but with Modbus exceptions or data its profile cannot decode.
  faulty: { zh: '故障', en: 'Faulty' },
  // Why a device is offline or faulty (catalogue codes, docs/errors.md).
  reason_DRV_ERR_TIMEOUT: { zh: '无应答', en: 'no reply' },
  reason_DRV_ERR_CRC: { zh: '校验错误', en: 'bad checksum' },
  reason_DRV_ERR_LINK_DOWN: { zh: '链路断开', en: 'link down' },
  reason_DRV_ERR_LINK_OPEN: { zh: '端口无法打开', en: 'port cannot be opened' },
  reason_DRV_ERR_EXCEPTION: { zh: '应答异常码', en: 'answers with exceptions' },
  reason_DRV_ERR_DECODE: { zh: '数据无法解析', en: 'data cannot be decoded' },
  reason_DRV_ERR_BUS_DEGRADED: { zh: '总线无有效数据帧', en: 'bus delivers no valid frame' },
  reasonOther: { zh: '其他原因', en: 'other reason' },
  unknown: { zh: '未知', en: 'Unknown' },
  disabled: { zh: '停用', en: 'Disabled' },
  lowBattery: { zh: '电量低', en: 'Low battery' },
  fault: { zh: '故障', en: 'Fault' },
  battery: { zh: '电量', en: 'Battery' },
  lastSeen: { zh: '最后在线', en: 'Last seen' },
  device: { zh: '设备', en: 'Device' },
  gateway: { zh: '网关', en: 'Gateway' },
  kind: { zh: '类别', en: 'Kind' },
  plan: { zh: '平面图', en: 'Site plan' },
  uploadPlan: { zh: '上传平面图（SVG/PNG，≤2MB）', en: 'Upload plan (SVG/PNG, ≤ 2 MB)' },
  noPlan: { zh: '尚未上传平面图', en: 'No plan uploaded yet' },
  dragHint: {
    zh: '把设备拖到平面图上；或选中标记后用方向键微调',
    en: 'Drag devices onto the plan, or focus a marker and move it with the arrow keys',
  },
  saved: { zh: '已保存', en: 'Saved' },
  unplaced: { zh: '未放置设备', en: 'Devices not placed' },
  trend: { zh: '趋势', en: 'Trend' },
  raw24h: { zh: '近24小时原始数据', en: 'Raw, last 24 h' },
  hourly7d: { zh: '近7天小时均值（阴影为最小–最大）', en: 'Hourly, last 7 days (band = min–max)' },
  noData: { zh: '暂无数据', en: 'No data' },
  alarmHistory: { zh: '报警历史', en: 'Alarm history' },
  outbox: { zh: '待发队列', en: 'Outbox pending' },
  drops: { zh: '丢弃', en: 'Dropped' },
  quarantined: { zh: '隔离', en: 'Quarantined' },
  clockOffset: { zh: '时钟偏差', en: 'Clock offset' },
  software: { zh: '软件版本', en: 'Software' },
  lastSync: { zh: '最近同步', en: 'Last sync' },
  rejected: { zh: '被拒批次', en: 'Rejected batches' },
  uptime: { zh: '运行时长', en: 'Uptime' },
  devices: { zh: '设备', en: 'Devices' },
  back: { zh: '返回', en: 'Back' },
  // district
  town: { zh: '街镇', en: 'Town' },
  overdueSupervise: { zh: '超时督办', en: 'Overdue 督办' },
  mtta: { zh: '平均确认用时', en: 'Mean time to ack' },
  mttc: { zh: '平均办结用时', en: 'Mean time to close' },
  falseRate: { zh: '误报率', en: 'False-alarm rate' },
  badActors: { zh: '高频误报点（>5次/日）', en: 'Bad actors (> 5 false/day)' },
  devicesOffline: { zh: '离线设备', en: 'Devices offline' },
  redLights: { zh: '红灯社区', en: 'Red-light sites' },
  window7d: { zh: '统计窗口：近7天', en: 'Window: last 7 days' },
  why_supervise: { zh: '督办中', en: 'under supervision' },
  why_critical_unacked: { zh: '火警未确认', en: 'fire alarm unacknowledged' },
  why_bad_actor: { zh: '高频误报', en: 'bad actor' },
  why_idle_7d: { zh: '7天无人处置', en: '7 days without activity' },
  none: { zh: '无', en: 'none' },
  forbidden: { zh: '无权执行此操作', en: 'Not allowed' },
};

/** Alarm types the gateways raise (protocol: slugs); unknown ones are shown as they are. */
const TYPES = {
  smoke: { zh: '烟感火警', en: 'Smoke (fire)' },
  fire_confirmed: { zh: '确认火警', en: 'Fire confirmed' },
  gas_low: { zh: '燃气低限', en: 'Gas low' },
  gas_high: { zh: '燃气高限', en: 'Gas high' },
  pressure_low: { zh: '水压过低', en: 'Pressure low' },
  pressure_high: { zh: '水压过高', en: 'Pressure high' },
  pressure_low_low: { zh: '水压极低', en: 'Pressure low-low' },
  door_held_open: { zh: '防火门常开', en: 'Fire door held open' },
  door_open_warning: { zh: '防火门未关', en: 'Fire door open' },
  battery_low: { zh: '电池欠压', en: 'Battery low' },
  low_battery: { zh: '电池欠压', en: 'Battery low' },
  heartbeat_lost: { zh: '心跳丢失', en: 'Heartbeat lost' },
  tamper: { zh: '防拆报警', en: 'Tamper' },
  chattering: { zh: '频繁报警', en: 'Chattering' },
  device_fault: { zh: '设备故障', en: 'Device fault' },
  device_offline: { zh: '设备离线', en: 'Device offline' },
  fire_lane_occupied: { zh: '消防通道占用', en: 'Fire lane occupied' },
  manhole_tilt: { zh: '井盖倾斜', en: 'Manhole tilted' },
  // Raised only by gateways from before the detector's AL1/AL2 fed gas_low/gas_high.
  gas_al1: { zh: '燃气一级报警', en: 'Gas alarm level 1' },
  gas_al2: { zh: '燃气二级报警', en: 'Gas alarm level 2' },
};

const SEVERITIES = {
  critical: { zh: '紧急', en: 'Critical' },
  major: { zh: '重要', en: 'Major' },
  minor: { zh: '次要', en: 'Minor' },
  info: { zh: '提示', en: 'Info' },
};

/** @typedef {'zh' | 'en'} Lang */

/** @type {Lang} */
let lang = localStorage.getItem('ds.lang') === 'en' ? 'en' : 'zh';

export function getLang() {
  return lang;
}

/** @param {Lang} next */
export function setLang(next) {
  lang = next;
  localStorage.setItem('ds.lang', next);
  document.documentElement.lang = next === 'zh' ? 'zh-CN' : 'en';
}

/** @param {string} key */
export function t(key) {
  const w = WORDS[key];
  return w ? w[lang] : key;
}

/** @param {{zh: string, en: string} | undefined} label @param {string} fallback */
export function pick(label, fallback) {
  return label ? label[lang] : fallback;
}

/**
 * Duty roles in words (the same as cloud/escalation/policy.ts ROLE_LABELS); roles are free words
 * in the people directory, so one not listed shows as written.
 * @type {Record<string, {zh: string, en: string}>}
 */
const ROLES = {
  duty: { zh: '值班员', en: 'Duty officer' },
  lead: { zh: '分管领导', en: 'Lead' },
  supervisor: { zh: '督办员', en: 'Supervisor' },
  maintenance: { zh: '维保人员', en: 'Maintenance' },
  village_head: { zh: '村居书记', en: 'Village head' },
};

/** @param {string} role */
export function roleLabel(role) {
  return pick(ROLES[role], role);
}

/** @param {string} type */
export function typeLabel(type) {
  return pick(/** @type {Record<string, {zh: string, en: string}>} */ (TYPES)[type], type);
}

/** @param {string} severity */
export function severityLabel(severity) {
  return pick(/** @type {Record<string, {zh: string, en: string}>} */ (SEVERITIES)[severity], severity);
}

const TZ = 'Asia/Shanghai';
/** @type {Record<string, Intl.DateTimeFormat>} */
const formats = {};
/** @param {string} key @param {Intl.DateTimeFormatOptions} options */
function fmt(key, options) {
  const id = `${lang}.${key}`;
  formats[id] ??= new Intl.DateTimeFormat(lang === 'zh' ? 'zh-CN' : 'en-GB', {
    timeZone: TZ,
    hour12: false,
    ...options,
  });
  return /** @type {Intl.DateTimeFormat} */ (formats[id]);
}

/** Date and time in Asia/Shanghai. @param {number | undefined} ms */
export function dateTime(ms) {
  if (ms === undefined || ms === null) return '—';
  return fmt('dt', {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).format(ms);
}

/** @param {number} ms */
export function timeOnly(ms) {
  return fmt('t', { hour: '2-digit', minute: '2-digit' }).format(ms);
}

/** A duration as 5秒 / 3分 / 2时15分 / 3天 (or 5s / 3m / 2h15m / 3d). @param {number | null | undefined} ms */
export function duration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const s = Math.max(0, Math.round(ms / 1000));
  const zh = lang === 'zh';
  if (s < 60) return zh ? `${s}秒` : `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return zh ? `${m}分` : `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return zh ? `${h}时${m % 60}分` : `${h}h${m % 60}m`;
  return zh ? `${Math.floor(h / 24)}天` : `${Math.floor(h / 24)}d`;
}
