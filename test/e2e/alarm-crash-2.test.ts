import { crashSuite } from './alarm-crash.js';

// One of four shares of the kill -9 test (13 detections, 52 kills in all); see alarm-crash.ts.
crashSuite('share 2', 'gw-crash-2', [5, 6, 7]);
