'use strict';
// `doorstep alarm`: alarm transitions the gateway publishes on doorstep/<gw>/alarms/<device>/<type>
// (the AlarmTransition JSON: id, device, type, severity, state, ts, latched, test …), filtered.
// `alarms/+/+` never matches the retained `alarms/active/<device>/<type>` tree (one level deeper).
const { list, useBroker, parseJson } = require('./lib.js');

module.exports = function register(RED) {
  function DoorstepAlarmNode(config) {
    RED.nodes.createNode(this, config);
    const broker = useBroker(RED, this, config.broker);
    if (!broker) return;
    const devices = list(config.devices);
    const types = list(config.types);
    const severities = list(config.severities);
    const states = list(config.states);
    // Walk-test alarms (test: true) are left out unless asked for: a test must not start a siren.
    const includeTests = config.includeTests === true;
    const level = (values) => (values.length === 1 ? values[0] : '+');
    const filter = `doorstep/${broker.gatewayId}/alarms/${level(devices)}/${level(types)}`;
    const unsubscribe = broker.subscribe(filter, (topic, payload) => {
      const t = parseJson(this, topic, payload);
      if (!t || typeof t !== 'object') return;
      if (devices.length > 0 && !devices.includes(t.device)) return;
      if (types.length > 0 && !types.includes(t.type)) return;
      if (severities.length > 0 && !severities.includes(t.severity)) return;
      if (states.length > 0 && !states.includes(t.state)) return;
      if (t.test && !includeTests) return;
      this.send({ topic, device: t.device, alarmType: t.type, payload: t });
    });
    this.on('close', unsubscribe);
  }
  RED.nodes.registerType('doorstep-alarm', DoorstepAlarmNode);
};
