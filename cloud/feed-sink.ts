import type { FeedMessage } from '../protocol/index.js';

/**
 * Where the HTTP service hands what it ingested for the tier feed (cloud/feed implements it as a
 * ZeroMQ PUB socket). `publish` must not block or throw on back-pressure: a ZeroMQ PUB socket
 * drops at its high-water mark, and the feed is a view — the store is the record.
 */
export interface FeedSink {
  start(): Promise<void>;
  publish(msg: FeedMessage): void;
  stop(): Promise<void>;
}

/** A FeedSink that keeps what it was given, for tests and for running without a feed. */
export class MemoryFeedSink implements FeedSink {
  readonly messages: FeedMessage[] = [];
  started = false;
  async start(): Promise<void> {
    this.started = true;
  }
  publish(msg: FeedMessage): void {
    this.messages.push(msg);
  }
  async stop(): Promise<void> {
    this.started = false;
  }
}
