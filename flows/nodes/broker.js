'use strict';
// `doorstep broker`: the one MQTT connection a Node-RED instance keeps to a doorstep gateway's local
// broker (edge/broker/README.md). Every other doorstep node borrows it, so a flow holds one
// session, one set of credentials and one place to change them.
//
// Plain CommonJS on purpose: Node-RED's registry require()s node files, and these files run inside
// Node-RED only, so they carry no TypeScript build step and import nothing from doorstep.
const mqtt = require('mqtt');

const { filterMatches } = require('./lib.js');

module.exports = function register(RED) {
  function DoorstepBrokerNode(config) {
    RED.nodes.createNode(this, config);
    // The gateway's supervisor (edge/runtime/node-red.ts) passes its broker address, gateway id and
    // the Node-RED broker user in the settings object; a node's own fields win when filled in, so
    // the same flows also run against a gateway elsewhere on the LAN.
    const fromGateway = RED.settings.doorstep || {};
    const credentials = this.credentials || {};
    this.gatewayId = config.gatewayId || fromGateway.gatewayId || '';
    const url = config.host ? `mqtt://${config.host}:${Number(config.port) || 1883}` : fromGateway.mqttUrl;
    const username = credentials.username || fromGateway.username;
    const password = credentials.password || fromGateway.password;
    this.statusTopic = `doorstep/${this.gatewayId}/flows/status`;

    /** filter → Set of handlers; one SUBSCRIBE per filter whatever the number of nodes using it. */
    const handlers = new Map();
    const subscribed = [];
    let closing = false;

    const dispatch = (topic, payload) => {
      for (const [filter, set] of handlers) {
        if (!filterMatches(filter, topic)) continue;
        for (const handler of set) {
          try {
            handler(topic, payload);
          } catch (error) {
            this.error(`handler for ${filter} failed: ${error.message}`);
          }
        }
      }
    };
    const connect = (suffix, extra) => {
      const client = mqtt.connect(url, {
        username,
        password,
        // The broker binds client ids to their user (`<username>-…`, edge/broker/README.md).
        clientId: `${username}-${this.gatewayId}-${this.id}${suffix}`.slice(0, 64),
        clean: true,
        reconnectPeriod: 2000,
        connectTimeout: 10_000,
        ...extra,
      });
      client.on('message', dispatch);
      client.on('error', (error) => this.warn(`doorstep broker ${url}: ${error.message}`));
      return client;
    };

    if (!url || !this.gatewayId) {
      this.error('doorstep broker: no broker address or gateway id (set them, or run under doorstep edge)');
      this.client = undefined;
    } else {
      this.client = connect('', {
        // Birth/will (retained) lets the gateway's staff and tests see whether the flows are live.
        will: {
          topic: this.statusTopic,
          payload: JSON.stringify({ state: 'offline', reason: 'connection lost' }),
          qos: 1,
          retain: true,
        },
      });
      this.client.on('connect', () => this.emit('doorstep-status', 'connected'));
      this.client.on('close', () => !closing && this.emit('doorstep-status', 'disconnected'));
    }

    // Readings (QoS 0) travel on a connection of their own. aedes 1.x can drop a QoS 1 message
    // delivered to a client in the same tick as a QoS 0 one (moscajs/aedes#994: the pair is
    // reordered and the QoS 1 packet discarded as already forwarded); the gateway publishes a poll's
    // readings and the alarm they raise together, so alarms must never share a client with readings.
    let readingsClient;
    const clientFor = (filter) => {
      if (!filter.split('/').includes('readings')) return this.client;
      readingsClient ??= connect('-r', {});
      return readingsClient;
    };

    /** Subscribes (QoS 1; readings QoS 0 as published) and returns the function that unsubscribes. */
    this.subscribe = (filter, handler) => {
      if (!this.client) return () => undefined;
      const client = clientFor(filter);
      let set = handlers.get(filter);
      if (!set) {
        set = new Set();
        handlers.set(filter, set);
        // mqtt.js queues a SUBSCRIBE made before the connection is up and renews it on reconnect.
        subscribed.push(
          new Promise((resolve) => {
            const qos = client === this.client ? 1 : 0;
            client.subscribe(filter, { qos }, (error, granted) => {
              // A refused filter (ACL) comes back as 0x80 in SUBACK (MQTT 3.1.1 §3.9.3).
              if (error || granted?.some((g) => g.qos === 128))
                this.error(`subscription to ${filter} refused: check the broker ACL of the Node-RED user`);
              resolve();
            });
          }),
        );
      }
      set.add(handler);
      return () => {
        set.delete(handler);
        if (set.size === 0 && handlers.get(filter) === set) {
          handlers.delete(filter);
          if (!closing) client.unsubscribe(filter);
        }
      };
    };

    /** Publishes; `%g` in the topic stands for the gateway id (as in the broker's ACL patterns). */
    this.publish = (topic, payload, options = {}) =>
      new Promise((resolve, reject) => {
        if (!this.client) return reject(new Error('no broker configured'));
        const body =
          Buffer.isBuffer(payload) || typeof payload === 'string' ? payload : JSON.stringify(payload);
        this.client.publish(
          topic.replaceAll('%g', this.gatewayId),
          body,
          { qos: options.qos ?? 1, retain: options.retain === true },
          (error) => (error ? reject(error) : resolve()),
        );
      });

    // Announce "online" once every node of the deployed flows has subscribed: whoever reads the
    // retained status knows no alarm published from then on is missed. (Readings subscriptions on
    // the second connection are awaited too: their SUBACK resolves the same promises.)
    const announce = async () => {
      await Promise.all(subscribed);
      if (closing || !this.client?.connected) return;
      await this.publish(
        this.statusTopic,
        { state: 'online', subscriptions: handlers.size, ts: Date.now() },
        {
          retain: true,
        },
      ).catch((error) => this.warn(`status not published: ${error.message}`));
    };
    let flowsStarted = false;
    const onFlowsStarted = () => {
      flowsStarted = true;
      if (this.client?.connected) announce();
    };
    RED.events.on('flows:started', onFlowsStarted);
    // Connected after the flows started, or reconnected later: announce (again).
    this.client?.on('connect', () => flowsStarted && announce());

    this.on('close', (done) => {
      closing = true;
      RED.events.removeListener('flows:started', onFlowsStarted);
      readingsClient?.end(true);
      if (!this.client) return done();
      const end = () => this.client.end(false, {}, () => done());
      if (!this.client.connected) return this.client.end(true, {}, () => done());
      this.publish(
        this.statusTopic,
        { state: 'offline', reason: 'stopped', ts: Date.now() },
        { retain: true },
      ).then(end, end);
    });
  }

  RED.nodes.registerType('doorstep-broker', DoorstepBrokerNode, {
    credentials: { username: { type: 'text' }, password: { type: 'password' } },
  });
};
