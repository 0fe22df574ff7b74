// Layer 2 mode: ARP and NDP codecs, per-interface responders, and the announcer the speaker drives.
export { Announcer, normaliseIp, type AnnouncerOptions, type AddressOptions, type AnnouncerEvents } from './announcer.ts';
export { DEFAULT_EXCLUDE_PATTERNS, ineligibleReason, subnetContains, readInterfaces, type SelectionConfig, type Iface, type Prefix } from './interface-monitor.ts';
export { layer2Metrics, type Layer2Metrics } from './metrics.ts';
export * as arp from './arp.ts';
export * as ndp from './ndp.ts';
export * as ethernet from './ethernet.ts';
