// The ironlb.io/v1alpha1 API: kinds and types, CRD generation, Service annotations, validation.
export * from './kinds.ts';
export * from './service.ts';
export * from './config.ts';
export { parseDuration } from './addr.ts';
export { crdFor, renderCrds } from './crd.ts';
export type { FieldError, Infer, Schema } from './schema-dsl.ts';
export { expandAnnouncements, isAnnounced, LOCAL_BGP_SAMPLE, type AnnouncementEntry } from './announcements.ts';
