import { crashSuite } from './alarm-crash.js';

// One of four shares of the kill -9 test (13 detections, 52 kills in all); see alarm-crash.ts.
crashSuite('share 4', 'gw-crash-4', [11, 12, 13]);
