export { type Clock, delay, systemClock } from './clock.js';
export { crc16Modbus, hasValidCrc, withCrc } from './crc16.js';
export { MasterBase, type ModbusMaster, type ReplyEvent, type RequestOptions } from './master.js';
export {
  type DeviceIdentificationPage,
  decodeReply,
  EXCEPTION_NAMES,
  encodeRequest,
  exceptionName,
  FUNCTION_CODES,
  functionCodeOf,
  LIMITS,
  type ModbusRequest,
  type ModbusResponse,
  type ModbusTable,
  replyMismatch,
  replyPduLength,
  replyPduLengthOf,
  type WritableTable,
} from './pdu.js';
export { RtuMaster, type RtuMasterOptions } from './rtu-master.js';
export { TcpMaster, type TcpMasterOptions } from './tcp-master.js';
