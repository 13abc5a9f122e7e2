export * from './decode.js';
export * from './input.js';
export * from './profile.js';
export * from './profiles.js';
