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
    const node = this;
    // The gateway's supervisor (edge/runtime/node-red.ts) passes its broker address, gateway id and
    // the Node-RED broker user in the settings object; a node's own fields win when filled in, so
    // the same flows also run against a gateway elsewhere on the LAN.
    const fromGateway = RED.settings.doorstep || {};
    const credentials = node.credentials || {};
    node.gatewayId = config.gatewayId || fromGateway.gatewayId || '';
    const url = config.host ? `mqtt://${config.host}:${Number(config.port) || 1883}` : fromGateway.mqttUrl;
    const username = credentials.username || fromGateway.username;
    const password = credentials.password || fromGateway.password;
    node.statusTopic = `doorstep/${node.gatewayId}/flows/status`;

    /** filter → Set of handlers; one SUBSCRIBE per filter whatever the number of nodes using it. */
    const handlers = new Map();
    const subscribed = [];
    let closing = false;

    if (!url || !node.gatewayId) {
      node.error('doorstep broker: no broker address or gateway id (set them, or run under doorstep edge)');
      node.client = undefined;
    } else {
      node.client = mqtt.connect(url, {
        username,
        password,
        clientId: `node-red-${node.gatewayId}-${node.id}`.slice(0, 64),
        clean: true,
        reconnectPeriod: 2000,
        connectTimeout: 10_000,
        // Birth/will (retained) lets the gateway's staff and tests see whether the flows are live.
        will: {
          topic: node.statusTopic,
          payload: JSON.stringify({ state: 'offline', reason: 'connection lost' }),
          qos: 1,
          retain: true,
        },
      });
      node.client.on('message', (topic, payload) => {
        for (const [filter, set] of handlers) {
          if (!filterMatches(filter, topic)) continue;
          for (const handler of set) {
            try {
              handler(topic, payload);
            } catch (error) {
              node.error(`handler for ${filter} failed: ${error.message}`);
            }
          }
        }
      });
      node.client.on('connect', () => node.emit('doorstep-status', 'connected'));
      node.client.on('close', () => !closing && node.emit('doorstep-status', 'disconnected'));
      node.client.on('error', (error) => node.warn(`doorstep broker ${url}: ${error.message}`));
    }

    /** Subscribes (QoS 1) and returns the function that unsubscribes. */
    node.subscribe = (filter, handler) => {
      if (!node.client) return () => undefined;
      let set = handlers.get(filter);
      if (!set) {
        set = new Set();
        handlers.set(filter, set);
        // mqtt.js queues a SUBSCRIBE made before the connection is up and renews it on reconnect.
        subscribed.push(
          new Promise((resolve) => {
            node.client.subscribe(filter, { qos: 1 }, (error, granted) => {
              // A refused filter (ACL) comes back as 0x80 in SUBACK (MQTT 3.1.1 §3.9.3).
              if (error || granted?.some((g) => g.qos === 128))
                node.error(`subscription to ${filter} refused: check the broker ACL of the Node-RED user`);
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
          if (!closing) node.client.unsubscribe(filter);
        }
      };
    };

    /** Publishes; `%g` in the topic stands for the gateway id (as in the broker's ACL patterns). */
    node.publish = (topic, payload, options = {}) =>
      new Promise((resolve, reject) => {
        if (!node.client) return reject(new Error('no broker configured'));
        const body =
          Buffer.isBuffer(payload) || typeof payload === 'string' ? payload : JSON.stringify(payload);
        node.client.publish(
          topic.replaceAll('%g', node.gatewayId),
          body,
          { qos: options.qos ?? 1, retain: options.retain === true },
          (error) => (error ? reject(error) : resolve()),
        );
      });

    // Announce "online" once every node of the deployed flows has subscribed: whoever reads the
    // retained status knows no alarm published from then on is missed.
    const announce = async () => {
      await Promise.all(subscribed);
      if (closing || !node.client?.connected) return;
      await node
        .publish(node.statusTopic, { state: 'online', subscriptions: handlers.size, ts: Date.now() }, {
          retain: true,
        })
        .catch((error) => node.warn(`status not published: ${error.message}`));
    };
    let flowsStarted = false;
    const onFlowsStarted = () => {
      flowsStarted = true;
      if (node.client?.connected) announce();
    };
    RED.events.on('flows:started', onFlowsStarted);
    // Connected after the flows started, or reconnected later: announce (again).
    node.client?.on('connect', () => flowsStarted && announce());

    node.on('close', (done) => {
      closing = true;
      RED.events.removeListener('flows:started', onFlowsStarted);
      if (!node.client) return done();
      const end = () => node.client.end(false, {}, () => done());
      if (!node.client.connected) return node.client.end(true, {}, () => done());
      node
        .publish(node.statusTopic, { state: 'offline', reason: 'stopped', ts: Date.now() }, { retain: true })
        .then(end, end);
    });
  }

  RED.nodes.registerType('doorstep-broker', DoorstepBrokerNode, {
    credentials: { username: { type: 'text' }, password: { type: 'password' } },
  });
};
