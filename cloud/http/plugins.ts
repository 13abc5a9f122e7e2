/**
 * The well-kept fastify plugins the cloud uses instead of its own code (issue 13): cookies,
 * security headers and the generated OpenAPI document. Registered on the root instance before any
 * route, so their hooks run for every route and @fastify/swagger's onRoute hook sees them all.
 */
import cookie from '@fastify/cookie';
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { SWAGGER_OPTIONS } from './openapi.js';

/**
 * The console's Content Security Policy (CSP Level 3, W3C): its own scripts, styles and API only;
 * plan images may be data:/blob: URLs; never framed. Routes that answer something else (the plan
 * image, the phone pages) set a stricter one of their own.
 */
export const CONSOLE_CSP = {
  defaultSrc: ["'self'"],
  imgSrc: ["'self'", 'data:', 'blob:'],
  styleSrc: ["'self'"],
  scriptSrc: ["'self'"],
  connectSrc: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
};

export function registerPlugins(app: FastifyInstance): void {
  // Parses Cookie in onRequest (before the console's session hook). The session cookie is not
  // signed: its value is 32 random bytes whose sha256 is all the store keeps, so a signature
  // would add nothing a guess could not already fail on (cloud/console/README.md, Sessions).
  app.register(cookie);
  app.register(helmet, {
    global: true,
    // No defaults: helmet's default CSP adds upgrade-insecure-requests, which breaks a console
    // served over plain http on a LAN.
    contentSecurityPolicy: { useDefaults: false, directives: CONSOLE_CSP },
    // HSTS only on https answers (RFC 6797 §7.2: not over plain http), set in app.ts's onSend.
    strictTransportSecurity: false,
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginEmbedderPolicy: false,
  });
  app.register(swagger, SWAGGER_OPTIONS);
}
