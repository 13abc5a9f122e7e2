/** The software version a gateway reports (kept equal to package.json's by test/version.test.ts). */
export const EDGE_VERSION = '0.1.0';
