// errors: JavaScript exceptions from errno values and from bad arguments
#include "ironlb_native.h"

void throw_errno(napi_env env, const char* call, int err) {
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

napi_value make_errno_error(napi_env env, const char* call, int err) {
  throw_errno(env, call, err);
  napi_value e;
  napi_get_and_clear_last_exception(env, &e);
  return e;
}

void throw_type(napi_env env, const char* msg) { napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg); }
void throw_range(napi_env env, const char* msg) { napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg); }

int pending(napi_env env) {
  bool p = false;
  napi_is_exception_pending(env, &p);
  return p ? 1 : 0;
}

napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}
