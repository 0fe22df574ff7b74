// argument checks (each returns 1, or 0 with a TypeError/RangeError thrown)
#include "ironlb_native.h"

const char* type_name(napi_valuetype t) {
  switch (t) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "a boolean";
    case napi_number: return "a number";
    case napi_string: return "a string";
    case napi_symbol: return "a symbol";
    case napi_object: return "an object";
    case napi_function: return "a function";
    case napi_external: return "a native handle";
    case napi_bigint: return "a bigint";
  }
  return "?";
}

napi_valuetype type_of(napi_env env, napi_value v) {
  napi_valuetype t = napi_undefined;
  napi_typeof(env, v, &t);
  return t;
}

// `sig` is the call as documented, e.g. "packetSend(handle, frame)".
int need_args(napi_env env, size_t argc, size_t n, const char* sig) {
  if (argc >= n) return 1;
  char m[256];
  snprintf(m, sizeof m, "%s: expected %zu argument%s, got %zu", sig, n, n == 1 ? "" : "s", argc);
  napi_throw_type_error(env, "ERR_MISSING_ARGS", m);
  return 0;
}

int want_type(napi_env env, napi_value v, napi_valuetype want, const char* what, const char* desc) {
  napi_valuetype t = type_of(env, v);
  if (t == want) return 1;
  char m[256];
  snprintf(m, sizeof m, "%s must be %s, got %s", what, desc, type_name(t));
  throw_type(env, m);
  return 0;
}

// An integer number in [min, max]: NaN, infinities, fractions and out-of-range values throw
// RangeError instead of being truncated or wrapped (port 70000 is not port 4464).
int arg_int(napi_env env, napi_value v, int64_t min, int64_t max, int32_t* out, const char* what) {
  if (!want_type(env, v, napi_number, what, "an integer")) return 0;
  double d = 0;
  napi_get_value_double(env, v, &d);
  if (!isfinite(d) || d != trunc(d) || d < (double)min || d > (double)max) {
    char m[256];
    snprintf(m, sizeof m, "%s must be an integer from %lld to %lld, got %.17g", what, (long long)min, (long long)max, d);
    throw_range(env, m);
    return 0;
  }
  *out = (int32_t)d;
  return 1;
}

int arg_bool(napi_env env, napi_value v, bool* out, const char* what) {
  if (!want_type(env, v, napi_boolean, what, "a boolean")) return 0;
  napi_get_value_bool(env, v, out);
  return 1;
}

// A string of at most `max` UTF-8 bytes (out has room for max + 1), without NUL characters.
// The byte length is checked before copying: N-API would otherwise cut it at a character boundary.
int arg_str(napi_env env, napi_value v, char* out, size_t max, const char* what) {
  if (!want_type(env, v, napi_string, what, "a string")) return 0;
  size_t len = 0;
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  if (len > max) {
    char m[256];
    snprintf(m, sizeof m, "%s is %zu bytes long (UTF-8); at most %zu bytes are allowed", what, len, max);
    throw_range(env, m);
    return 0;
  }
  size_t got = 0;
  napi_get_value_string_utf8(env, v, out, max + 1, &got);
  if (got != len || strlen(out) != len) {
    char m[256];
    snprintf(m, sizeof m, "%s contains a NUL character", what);
    throw_type(env, m);
    return 0;
  }
  return 1;
}

// The kernel's dev_valid_name(): 1..15 bytes, not "." or "..", no '/', ':' or white space.
static int valid_ifname(const char* n) {
  size_t l = strlen(n);
  if (l == 0 || l >= IFNAMSIZ || !strcmp(n, ".") || !strcmp(n, "..")) return 0;
  for (const unsigned char* p = (const unsigned char*)n; *p; p++)
    if (*p == '/' || *p == ':' || isspace(*p)) return 0;
  return 1;
}

// An interface name (out: IFNAMSIZ bytes); "" only when allow_empty.
int arg_ifname(napi_env env, napi_value v, char* out, int allow_empty, const char* what) {
  if (!arg_str(env, v, out, IFNAMSIZ - 1, what)) return 0;
  if ((allow_empty && out[0] == 0) || valid_ifname(out)) return 1;
  char m[256];
  snprintf(m, sizeof m, "%s \"%s\" is not a valid interface name (1-15 bytes, no '/', ':' or spaces)", what, out);
  throw_range(env, m);
  return 0;
}

// Optional property: 1 = present and valid, 0 = absent (undefined/null), -1 = bad (thrown).
int opt_present(napi_env env, napi_value obj, const char* key, napi_value* v) {
  if (napi_get_named_property(env, obj, key, v) != napi_ok) return -1;
  napi_valuetype t = type_of(env, *v);
  return t == napi_undefined || t == napi_null ? 0 : 1;
}

int opt_int(napi_env env, napi_value obj, const char* key, int64_t min, int64_t max, int32_t* out) {
  napi_value v;
  int r = opt_present(env, obj, key, &v);
  if (r <= 0) return r;
  char what[64];
  snprintf(what, sizeof what, "options.%s", key);
  return arg_int(env, v, min, max, out, what) ? 1 : -1;
}

int opt_str(napi_env env, napi_value obj, const char* key, char* out, size_t max) {
  napi_value v;
  int r = opt_present(env, obj, key, &v);
  if (r <= 0) return r;
  char what[64];
  snprintf(what, sizeof what, "options.%s", key);
  return arg_str(env, v, out, max, what) ? 1 : -1;
}

int opt_bool(napi_env env, napi_value obj, const char* key, bool* out) {
  napi_value v;
  *out = false;
  int r = opt_present(env, obj, key, &v);
  if (r <= 0) return r;
  char what[64];
  snprintf(what, sizeof what, "options.%s", key);
  return arg_bool(env, v, out, what) ? 1 : -1;
}

// Parses a textual IPv4/IPv6 address into a sockaddr of the socket's family (IPv4 on an IPv6
// socket becomes v4-mapped). Returns the length, 0 on failure. A scope ("%eth0") must name an
// existing interface in full: a longer name is refused, never cut to 15 bytes.
socklen_t parse_addr(int family, const char* text, int port, struct sockaddr_storage* ss) {
  memset(ss, 0, sizeof *ss);
  struct in_addr a4;
  struct in6_addr a6;
  if (family == AF_INET) {
    if (inet_pton(AF_INET, text, &a4) != 1) return 0;
    struct sockaddr_in* s = (struct sockaddr_in*)ss;
    s->sin_family = AF_INET;
    s->sin_port = htons((uint16_t)port);
    s->sin_addr = a4;
    return sizeof *s;
  }
  struct sockaddr_in6* s = (struct sockaddr_in6*)ss;
  s->sin6_family = AF_INET6;
  s->sin6_port = htons((uint16_t)port);
  char buf[INET6_ADDRSTRLEN + IFNAMSIZ + 2];
  if (strlen(text) >= sizeof buf) return 0;
  snprintf(buf, sizeof buf, "%s", text);
  char* pct = strchr(buf, '%');
  if (pct) {
    *pct = 0;
    if (!valid_ifname(pct + 1)) return 0;
    s->sin6_scope_id = if_nametoindex(pct + 1);
    if (s->sin6_scope_id == 0) return 0;
  }
  if (inet_pton(AF_INET6, buf, &a6) == 1) {
    s->sin6_addr = a6;
    return sizeof *s;
  }
  if (!pct && inet_pton(AF_INET, buf, &a4) == 1) {
    s->sin6_addr.s6_addr[10] = 0xff;
    s->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&s->sin6_addr.s6_addr[12], &a4, 4);
    return sizeof *s;
  }
  return 0;
}

int sock_family(int fd) {
  struct sockaddr_storage ss;
  socklen_t l = sizeof ss;
  if (getsockname(fd, (struct sockaddr*)&ss, &l) != 0) return -1;
  return ss.ss_family;
}
