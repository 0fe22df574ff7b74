// The BGP codec: pure encode/decode of messages, attributes, capabilities and prefixes.
export * from './constants.ts';
export * from './errors.ts';
export * from './prefix.ts';
export * from './communities.ts';
export * from './capabilities.ts';
export * from './attributes.ts';
export * from './messages.ts';
