export {
  hashPassword,
  passwordHashProblems,
  SCRYPT_PARAMS,
  type ScryptParams,
  verifyPassword,
} from '../../common/password.js';
export { AccessControl, type AuthDecision, CONNACK, type RefusalCode } from './access-control.js';
export {
  COMMAND_SCHEMAS,
  type CommandHandler,
  type CommandOutcome,
  type CommandResult,
  type GatewayCommand,
  parseCommand,
} from './commands.js';
export {
  AclPatternSchema,
  type BrokerAcl,
  BrokerAclSchema,
  type BrokerLimits,
  BrokerLimitsSchema,
  type BrokerUser,
  BrokerUserSchema,
  type LocalBrokerConfig,
  type LocalBrokerConfigInput,
  LocalBrokerConfigSchema,
  resolveLocalBrokerConfig,
  USERNAME_PATTERN,
} from './config.js';
export { GatewayPublisher } from './gateway-publisher.js';
export {
  type BrokerClientInfo,
  type BrokerMessage,
  LocalBroker,
  type LocalBrokerEvents,
  type LocalBrokerOptions,
  type OutgoingMessage,
} from './local-broker.js';
export { filterCovers, topicFilterProblems, topicMatches, topicNameProblems } from './topic-filter.js';
export * from './topics.js';
