'use strict';
// `doorstep reading`: readings the gateway publishes on doorstep/<gw>/readings/<device>/<point>
// (payload {value, unit, quality, ts}), filtered by device, point and quality.
const { list, useBroker, parseJson } = require('./lib.js');

module.exports = function register(RED) {
  function DoorstepReadingNode(config) {
    RED.nodes.createNode(this, config);
    const broker = useBroker(RED, this, config.broker);
    if (!broker) return;
    const devices = list(config.devices);
    const points = list(config.points);
    const goodOnly = config.quality === 'good';
    const changesOnly = config.changesOnly === true;
    const last = new Map();
    // One device or point narrows the subscription; several are filtered here.
    const level = (values) => (values.length === 1 ? values[0] : '+');
    const filter = `doorstep/${broker.gatewayId}/readings/${level(devices)}/${level(points)}`;
    const unsubscribe = broker.subscribe(filter, (topic, payload) => {
      const [, , , device, point] = topic.split('/');
      if (devices.length > 0 && !devices.includes(device)) return;
      if (points.length > 0 && !points.includes(point)) return;
      const reading = parseJson(this, topic, payload);
      if (!reading) return;
      if (goodOnly && reading.quality !== 'good') return;
      if (changesOnly) {
        const key = `${device}/${point}`;
        const value = JSON.stringify(reading.value);
        if (last.get(key) === value) return;
        last.set(key, value);
      }
      this.send({ topic, device, point, payload: reading });
    });
    this.on('close', unsubscribe);
  }
  RED.nodes.registerType('doorstep-reading', DoorstepReadingNode);
};
