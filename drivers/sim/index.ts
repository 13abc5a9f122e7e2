/** Simulated Modbus devices: register banks, RTU buses and TCP servers with named fault modes. */

export {
  FAULT_MODES,
  type Fault,
  type FaultDecision,
  FaultInjector,
  type FaultMode,
  type FaultSpec,
  seededRandom,
} from './modbus-slave/faults.js';
export {
  type Clock,
  DeadlineScheduler,
  interFrameGapMs,
  monotonicClock,
  type Pace,
  planTransaction,
  type TransactionPlan,
  transactionTimeMs,
} from './modbus-slave/pacing.js';
export { ExceptionCode, exceptionPdu, executePdu, FunctionCode, LIMITS } from './modbus-slave/pdu.js';
export { buildRtuFrame, expectedRequestLength } from './modbus-slave/rtu-framing.js';
export { type RtuBusCounters, RtuSlave, type RtuSlaveOptions } from './modbus-slave/rtu-slave.js';
export {
  type TcpServerCounters,
  TcpSlaveServer,
  type TcpSlaveServerOptions,
} from './modbus-slave/tcp-slave.js';
export { type DeviceIdentity, SimUnit, type SimUnitOptions, type UnitCounters } from './modbus-slave/unit.js';
export {
  type BitTable,
  type ChangeListener,
  type ChangeSource,
  RegisterBank,
  type RegisterBankOptions,
  type RegisterChange,
  type RegisterTable,
  type Table,
  type WordOrder,
} from './register-bank.js';
