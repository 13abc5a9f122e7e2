import type { AlarmSeverity, AlarmTransition } from '../../../protocol/alarm.js';
import type { ReadingValue } from '../../../protocol/reading.js';
import type { RuleState } from './state.js';

/** What a transition needs to know about the rule; a removed rule is described by its state alone. */
export interface TransitionSource {
  device: string;
  type: string;
  severity: AlarmSeverity;
  latched: boolean;
  message?: string | undefined;
  state: RuleState;
  value: ReadingValue | undefined;
}

export function buildTransition(
  gateway: string,
  source: TransitionSource,
  state: AlarmTransition['state'],
  ts: number,
  message?: string,
): AlarmTransition {
  const transition: AlarmTransition = {
    id: source.state.id!,
    gateway,
    device: source.device,
    type: source.type,
    severity: source.severity,
    state,
    ts,
    test: source.state.test,
    latched: source.latched,
  };
  if (source.state.point !== undefined) transition.point = source.state.point;
  if (source.value !== undefined) transition.value = source.value;
  if (source.state.sources !== undefined && source.state.sources.length > 0)
    transition.sources = [...source.state.sources];
  const text = message ?? source.message;
  if (text !== undefined) transition.message = text;
  return transition;
}
