export { CHATTERING_RULE } from './engine/build.js';
export {
  createRuleEngine,
  type ResetResult,
  RuleEngine,
  type RuleEngineHealth,
  type RuleEngineOptions,
} from './engine/engine.js';
export { type AlarmIdFactory, createAlarmIdFactory } from './engine/ids.js';
export { SqliteRuleStateStore } from './engine/sqlite-store.js';
export {
  type AlarmPhase,
  MemoryRuleStateStore,
  type RuleState,
  type RuleStateStore,
} from './engine/state.js';
export {
  assertNoFileProblems,
  loadRuleFile,
  ParamRef,
  type ParsedRuleFile,
  parseRuleFile,
  RuleFile,
  type RuleFileProblem,
} from './file.js';
export * from './operators/index.js';
export { defaultRulePack, type PackOptions } from './packs.js';
export {
  assertNoRuleProblems,
  type DeviceRuleEntry,
  type DeviceRules,
  type RuleOverrideSet,
  type RuleProblem,
  resolveDeviceRules,
  resolveSiteRules,
} from './resolve.js';
export {
  HolidayDate,
  isInSchedule,
  isInWindow,
  nextScheduleEdge,
  ScheduleWindow,
  TimeOfDay,
} from './schedule.js';
export {
  Condition,
  type ConditionInput,
  ConfirmWith,
  RuleOverride,
  RuleOverrides,
  RuleSpec,
  type RuleSpecInput,
} from './spec.js';
