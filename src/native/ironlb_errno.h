// Shared by the addon's newer source files: a thrown Error shaped as NativeError (src/native/index.ts):
// message "call: strerror (ENAME)", and errno, code, syscall properties.
#ifndef IRONLB_ERRNO_H
#define IRONLB_ERRNO_H
#include <node_api.h>
#include <stdio.h>
#include <string.h>

static inline void ironlb_throw_errno(napi_env env, const char* call, int err) {
  char msg[256];
  const char* name = strerrorname_np(err);
  snprintf(msg, sizeof msg, "%s: %s (%s)", call, strerror(err), name ? name : "E?");
  napi_value m, e, v;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, NULL, m, &e);
  napi_create_int32(env, err, &v);
  napi_set_named_property(env, e, "errno", v);
  napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, e, "code", v);
  napi_create_string_utf8(env, call, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, e, "syscall", v);
  napi_throw(env, e);
}
#endif
