export { CurveKey, z85Decode } from './curve.js';
export { formatFeedLine, summarizeData } from './format.js';
export {
  type CountByKind,
  FeedEndpoint,
  FeedPublisherConfig,
  type FeedPublisherStats,
  type FeedSink,
  ZmqFeedPublisher,
} from './publisher.js';
export { FeedSubscriber, FeedSubscriberOptions, type HandshakeFailure } from './subscriber.js';
