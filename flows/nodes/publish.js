'use strict';
// `doorstep publish`: publishes msg.payload (objects as JSON) on a local topic through the same
// connection, e.g. a siren controller's or a notification topic. `%g` is the gateway id. The
// Node-RED broker user's ACL decides what it may publish (edge/broker/README.md): a refused
// publish closes the connection (MQTT 3.1.1 §3.3.5), so give the user exactly the topics it needs.
const { useBroker } = require('./lib.js');

module.exports = function register(RED) {
  function DoorstepPublishNode(config) {
    RED.nodes.createNode(this, config);
    const broker = useBroker(RED, this, config.broker);
    if (!broker) return;
    this.on('input', (msg, _send, done) => {
      const topic = config.topic || msg.topic;
      if (!topic) {
        done(new Error('no topic: set one on the node or in msg.topic'));
        return;
      }
      broker
        .publish(topic, msg.payload ?? '', { qos: Number(config.qos ?? 1), retain: config.retain === true })
        .then(() => done(), done);
    });
  }
  RED.nodes.registerType('doorstep-publish', DoorstepPublishNode);
};
