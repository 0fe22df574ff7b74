// ironlb's one native addon: only what Node cannot do by itself.
//  - AF_PACKET raw sockets (ARP/NDP announcer), packet multicast membership, classic BPF filters,
//    receive buffer sizing and the kernel's drop counters (PACKET_STATISTICS)
//  - interface facts from an rtnetlink dump, and a netlink watcher that signals link/address changes
//  - TCP sockets with options that must be set before the SYN (TCP_MD5SIG, TTL, min TTL, device)
//  - UDP sockets that report the received TTL / hop limit (BFD's GTSM check)
//  - the ARP / Neighbor Solicitation responder: a thread per responder socket answers requests for
//    the addresses JavaScript installed, without waking JavaScript (section "responder" below)
// Reads are driven by libuv uv_poll_t on the main loop (the responder's own thread apart); every
// callback into JS goes through napi_make_callback so promises resolved inside it run, and
// exceptions become fatal exceptions.
//
// Hardening rules (issue 13 item 16):
//  - every argument is checked: a wrong type throws TypeError, a value out of range RangeError,
//    a missing argument TypeError (never a silent undefined); nothing is truncated or wrapped.
//  - JavaScript never passes raw file descriptor numbers in: sockets are referred to by handles
//    (napi externals). A handle for a socket owned elsewhere (a net.Socket's fd) remembers the
//    socket's identity (device and inode) and refuses every call once that number refers to
//    anything else, so a stale handle can never change a new socket that reused its number.
//  - the netlink parser reads every header and attribute only after checking its length.
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <math.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifndef IPV6_MINHOPCOUNT
#define IPV6_MINHOPCOUNT 73
#endif
#ifndef IP_MINTTL
#define IP_MINTTL 21
#endif

// Bounded work per readiness event: a flood must not starve the rest of the loop.
#define MAX_READS_PER_EVENT 64
// Packet sockets: a frame costs about a microsecond of JavaScript, so 256 stay well under a millisecond.
#define MAX_PACKET_READS_PER_EVENT 256
#define RECV_BUF_SIZE 65536
// Interface indexes a single link-watch event reports as seen down; more sets `overflow`.
#define MAX_DOWN_REPORT 64

static unsigned char recv_buf[RECV_BUF_SIZE];
// Packet sockets read in batches (recvmmsg): ARP requests and Neighbor Solicitations fit a slot
// (an Ethernet frame of MTU 1500 does; jumbo frames are cut and not passed on).
#define PACKET_BATCH 32
#define PACKET_SLOT 4096
static unsigned char packet_slots[PACKET_BATCH][PACKET_SLOT];

// ---------------------------------------------------------------------------------------------
// errors

static void throw_errno(napi_env env, const char* call, int err) {
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

static napi_value make_errno_error(napi_env env, const char* call, int err) {
  throw_errno(env, call, err);
  napi_value e;
  napi_get_and_clear_last_exception(env, &e);
  return e;
}

static void throw_type(napi_env env, const char* msg) { napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg); }
static void throw_range(napi_env env, const char* msg) { napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg); }

static int pending(napi_env env) {
  bool p = false;
  napi_is_exception_pending(env, &p);
  return p ? 1 : 0;
}

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// ---------------------------------------------------------------------------------------------
// argument checks (each returns 1, or 0 with a TypeError/RangeError thrown)

static const char* type_name(napi_valuetype t) {
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

static napi_valuetype type_of(napi_env env, napi_value v) {
  napi_valuetype t = napi_undefined;
  napi_typeof(env, v, &t);
  return t;
}

// `sig` is the call as documented, e.g. "packetSend(handle, frame)".
static int need_args(napi_env env, size_t argc, size_t n, const char* sig) {
  if (argc >= n) return 1;
  char m[256];
  snprintf(m, sizeof m, "%s: expected %zu argument%s, got %zu", sig, n, n == 1 ? "" : "s", argc);
  napi_throw_type_error(env, "ERR_MISSING_ARGS", m);
  return 0;
}

static int want_type(napi_env env, napi_value v, napi_valuetype want, const char* what, const char* desc) {
  napi_valuetype t = type_of(env, v);
  if (t == want) return 1;
  char m[256];
  snprintf(m, sizeof m, "%s must be %s, got %s", what, desc, type_name(t));
  throw_type(env, m);
  return 0;
}

// An integer number in [min, max]: NaN, infinities, fractions and out-of-range values throw
// RangeError instead of being truncated or wrapped (port 70000 is not port 4464).
static int arg_int(napi_env env, napi_value v, int64_t min, int64_t max, int32_t* out, const char* what) {
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

static int arg_bool(napi_env env, napi_value v, bool* out, const char* what) {
  if (!want_type(env, v, napi_boolean, what, "a boolean")) return 0;
  napi_get_value_bool(env, v, out);
  return 1;
}

// A string of at most `max` UTF-8 bytes (out has room for max + 1), without NUL characters.
// The byte length is checked before copying: N-API would otherwise cut it at a character boundary.
static int arg_str(napi_env env, napi_value v, char* out, size_t max, const char* what) {
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
static int arg_ifname(napi_env env, napi_value v, char* out, int allow_empty, const char* what) {
  if (!arg_str(env, v, out, IFNAMSIZ - 1, what)) return 0;
  if ((allow_empty && out[0] == 0) || valid_ifname(out)) return 1;
  char m[256];
  snprintf(m, sizeof m, "%s \"%s\" is not a valid interface name (1-15 bytes, no '/', ':' or spaces)", what, out);
  throw_range(env, m);
  return 0;
}

// Optional property: 1 = present and valid, 0 = absent (undefined/null), -1 = bad (thrown).
static int opt_present(napi_env env, napi_value obj, const char* key, napi_value* v) {
  if (napi_get_named_property(env, obj, key, v) != napi_ok) return -1;
  napi_valuetype t = type_of(env, *v);
  return t == napi_undefined || t == napi_null ? 0 : 1;
}

static int opt_int(napi_env env, napi_value obj, const char* key, int64_t min, int64_t max, int32_t* out) {
  napi_value v;
  int r = opt_present(env, obj, key, &v);
  if (r <= 0) return r;
  char what[64];
  snprintf(what, sizeof what, "options.%s", key);
  return arg_int(env, v, min, max, out, what) ? 1 : -1;
}

static int opt_str(napi_env env, napi_value obj, const char* key, char* out, size_t max) {
  napi_value v;
  int r = opt_present(env, obj, key, &v);
  if (r <= 0) return r;
  char what[64];
  snprintf(what, sizeof what, "options.%s", key);
  return arg_str(env, v, out, max, what) ? 1 : -1;
}

static int opt_bool(napi_env env, napi_value obj, const char* key, bool* out) {
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
static socklen_t parse_addr(int family, const char* text, int port, struct sockaddr_storage* ss) {
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

static int sock_family(int fd) {
  struct sockaddr_storage ss;
  socklen_t l = sizeof ss;
  if (getsockname(fd, (struct sockaddr*)&ss, &l) != 0) return -1;
  return ss.ss_family;
}

// ---------------------------------------------------------------------------------------------
// handles: polled sockets (packet, udp, netlink watch, pending connect) and socket references

#define HANDLE_MAGIC 0x494c4248u  // "ILBH": only externals this addon made are accepted

enum { K_PACKET = 1, K_UDP, K_WATCH, K_CONNECT, K_REF };

struct responder;
struct handle;
static void responder_close(struct handle* h);
static void responder_free(struct responder* r);
static void responder_ref(struct responder* r, int ref);

static const char* kind_name(int k) {
  switch (k) {
    case K_PACKET: return "packet socket";
    case K_UDP: return "UDP socket";
    case K_WATCH: return "link watcher";
    case K_CONNECT: return "pending TCP connect";
    case K_REF: return "socket reference";
  }
  return "handle";
}

typedef struct handle {
  uint32_t magic;
  int kind;
  int fd;
  int owns_fd;  // 0 for K_REF: the socket belongs to whoever wrapped its fd (net.Socket/Server)
  dev_t dev;    // identity of the socket behind fd (K_REF)
  ino_t ino;
  int family;
  uv_poll_t poll;
  int poll_init;
  int closed;
  int poll_closed;
  int finalized;
  napi_env env;
  napi_ref cb;
  napi_ref err_cb;
  napi_ref receiver;
  napi_async_context actx;
  uint64_t stat_packets;  // PACKET_STATISTICS accumulated (the kernel resets on each read)
  uint64_t stat_drops;
  int in_batch;  // inside on_packet's callback scope: the async context outlives a close until it ends
  struct responder* resp;  // K_PACKET answering natively (packetResponderOpen): its thread and table
} handle_t;

static void maybe_free(handle_t* h) {
  if (h->closed && h->poll_closed && h->finalized) {
    h->magic = 0;
    if (h->resp) responder_free(h->resp);
    free(h);
  }
}

static void on_poll_closed(uv_handle_t* p) {
  handle_t* h = p->data;
  h->poll_closed = 1;
  maybe_free(h);
}

// Releases the fd at once (if this handle owns it) and stops polling; the uv handle closes on
// the next loop turn and never keeps the loop alive (it is unreferenced first).
static void handle_close(handle_t* h) {
  if (h->closed) return;
  h->closed = 1;
  if (h->poll_init) {
    uv_poll_stop(&h->poll);
    uv_unref((uv_handle_t*)&h->poll);
    uv_close((uv_handle_t*)&h->poll, on_poll_closed);
  } else if (h->resp) {
    responder_close(h);  // joins its thread before the fd closes below; sets poll_closed later
  } else {
    h->poll_closed = 1;
  }
  if (h->fd >= 0 && h->owns_fd) close(h->fd);
  h->fd = -1;
  if (h->cb) napi_delete_reference(h->env, h->cb);
  if (h->err_cb) napi_delete_reference(h->env, h->err_cb);
  if (h->receiver) napi_delete_reference(h->env, h->receiver);
  if (h->actx && !h->in_batch) {
    napi_async_destroy(h->env, h->actx);
    h->actx = NULL;
  }
  h->cb = NULL;
  h->err_cb = NULL;
  h->receiver = NULL;
}

static void handle_finalize(napi_env env, void* data, void* hint) {
  handle_t* h = data;
  handle_close(h);
  h->finalized = 1;
  maybe_free(h);
}

static handle_t* handle_alloc(napi_env env, int kind, int fd, int family, napi_value* external) {
  handle_t* h = calloc(1, sizeof *h);
  if (!h) {
    napi_throw_error(env, "ENOMEM", "out of memory allocating a native handle");
    return NULL;
  }
  h->magic = HANDLE_MAGIC;
  h->kind = kind;
  h->fd = fd;
  h->owns_fd = kind != K_REF;
  h->family = family;
  h->env = env;
  if (napi_create_external(env, h, handle_finalize, NULL, external) != napi_ok) {
    free(h);
    napi_throw_error(env, "ENOMEM", "could not create a native handle");
    return NULL;
  }
  return h;
}

static handle_t* handle_new(napi_env env, int kind, int fd, int family, napi_value cb, napi_value err_cb, const char* name,
                            napi_value* external) {
  handle_t* h = handle_alloc(env, kind, fd, family, external);
  if (!h) {
    close(fd);
    return NULL;
  }
  napi_value recv, rname;
  napi_create_object(env, &recv);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &rname);
  napi_create_reference(env, recv, 1, &h->receiver);
  napi_create_reference(env, cb, 1, &h->cb);
  if (err_cb) napi_create_reference(env, err_cb, 1, &h->err_cb);
  napi_async_init(env, recv, rname, &h->actx);
  return h;
}

static int handle_start(napi_env env, handle_t* h, int events, uv_poll_cb cb) {
  uv_loop_t* loop;
  napi_get_uv_event_loop(env, &loop);
  int r = uv_poll_init(loop, &h->poll, h->fd);
  if (r != 0) {
    throw_errno(env, "uv_poll_init", -r);
    return 0;
  }
  h->poll.data = h;
  h->poll_init = 1;
  r = uv_poll_start(&h->poll, events, cb);
  if (r != 0) {
    throw_errno(env, "uv_poll_start", -r);
    return 0;
  }
  return 1;
}

// A new handle for `fd` polled for `events`: the JS external, or NULL with an exception pending
// (the fd is closed then).
static napi_value handle_open(napi_env env, int kind, int fd, int family, napi_value cb, napi_value err_cb, const char* name,
                              int events, uv_poll_cb on_ready) {
  napi_value ext;
  handle_t* h = handle_new(env, kind, fd, family, cb, err_cb, name, &ext);
  if (!h) return NULL;
  if (!handle_start(env, h, events, on_ready)) {
    handle_close(h);
    return NULL;
  }
  return ext;
}

// A reference to a socket owned elsewhere: remembers its identity. NULL with an exception on error.
static napi_value ref_new(napi_env env, int fd, const char* call) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    throw_errno(env, call, errno);
    return NULL;
  }
  if (!S_ISSOCK(st.st_mode)) {
    throw_errno(env, call, ENOTSOCK);
    return NULL;
  }
  napi_value ext;
  handle_t* h = handle_alloc(env, K_REF, fd, sock_family(fd), &ext);
  if (!h) return NULL;
  h->poll_closed = 1;
  h->dev = st.st_dev;
  h->ino = st.st_ino;
  return ext;
}

static handle_t* get_handle(napi_env env, napi_value v, int kind, const char* what) {
  void* p = NULL;
  char m[256];
  if (type_of(env, v) != napi_external || napi_get_value_external(env, v, &p) != napi_ok || !p ||
      ((handle_t*)p)->magic != HANDLE_MAGIC) {
    snprintf(m, sizeof m, "%s must be a native handle from this addon, got %s", what, type_name(type_of(env, v)));
    throw_type(env, m);
    return NULL;
  }
  handle_t* h = p;
  if (kind && h->kind != kind) {
    snprintf(m, sizeof m, "%s must be a %s handle, got a %s handle", what, kind_name(kind), kind_name(h->kind));
    throw_type(env, m);
    return NULL;
  }
  return h;
}

// As get_handle, and the handle must not be closed yet; `call` names the call in the error.
static handle_t* get_open_handle(napi_env env, napi_value v, int kind, const char* call) {
  handle_t* h = get_handle(env, v, kind, "handle");
  if (h && h->closed) {
    char m[160];
    snprintf(m, sizeof m, "%s (the %s is closed; open a new one)", call, kind_name(h->kind));
    throw_errno(env, m, EBADF);
    return NULL;
  }
  return h;
}

// The fd of a socket handle for an option call: a UDP socket we own, or a reference whose
// socket is still the same one (same inode). -1 with EBADF thrown otherwise.
static int socket_fd(napi_env env, napi_value v, const char* call) {
  handle_t* h = get_handle(env, v, 0, "socket");
  if (!h) return -1;
  if (h->kind != K_REF && h->kind != K_UDP) {
    char m[256];
    snprintf(m, sizeof m, "%s: socket must be a TCP socket reference or a UDP socket handle, got a %s handle", call, kind_name(h->kind));
    throw_type(env, m);
    return -1;
  }
  char m[200];
  if (h->closed || h->fd < 0) {
    snprintf(m, sizeof m, "%s (the %s is closed; open a new one)", call, kind_name(h->kind));
    throw_errno(env, m, EBADF);
    return -1;
  }
  if (h->kind == K_REF) {
    struct stat st;
    if (fstat(h->fd, &st) != 0 || st.st_dev != h->dev || st.st_ino != h->ino) {
      // The socket was closed by its owner; its number is unused or now another file.
      snprintf(m, sizeof m, "%s (the socket behind fd %d was closed; its number is unused or reused: open a new one)", call, h->fd);
      h->closed = 1;
      h->fd = -1;
      throw_errno(env, m, EBADF);
      return -1;
    }
  }
  return h->fd;
}

// The bytes of a Buffer argument: 1, or 0 (data NULL, len 0) when `v` is not a Buffer.
static int arg_buffer(napi_env env, napi_value v, void** data, size_t* len) {
  bool isbuf = false;
  napi_is_buffer(env, v, &isbuf);
  *data = NULL;
  *len = 0;
  if (isbuf) napi_get_buffer_info(env, v, data, len);
  return isbuf;
}

// Calls one of the handle's JS callbacks. Returns 0 if it threw (then surfaced as fatal).
static int call_ref(handle_t* h, napi_ref fn, size_t argc, napi_value* argv) {
  napi_env env = h->env;
  napi_value cb, recv, result;
  if (!fn || !h->receiver) return 0;
  napi_get_reference_value(env, fn, &cb);
  napi_get_reference_value(env, h->receiver, &recv);
  napi_status st = napi_make_callback(env, h->actx, recv, cb, argc, argv, &result);
  if (st != napi_ok) {
    if (pending(env)) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
    return 0;
  }
  return 1;
}

static int call_js(handle_t* h, size_t argc, napi_value* argv) { return call_ref(h, h->cb, argc, argv); }

// close(handle): idempotent. A socket reference only forgets the socket (its owner closes it).
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!need_args(env, argc, 1, "close(handle)")) return NULL;
  handle_t* h = get_handle(env, argv[0], 0, "handle");
  if (h) handle_close(h);
  return h ? undefined(env) : NULL;
}

static napi_value js_set_ref(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!need_args(env, argc, 2, "setRef(handle, ref)")) return NULL;
  handle_t* h = get_handle(env, argv[0], 0, "handle");
  bool ref = false;
  if (!h || !arg_bool(env, argv[1], &ref, "ref")) return NULL;
  if (!h->closed && h->poll_init) {
    if (ref) uv_ref((uv_handle_t*)&h->poll);
    else uv_unref((uv_handle_t*)&h->poll);
  }
  if (!h->closed && h->resp) responder_ref(h->resp, ref);
  return undefined(env);
}

// handleFd(handle) -> the fd number, to hand a socket over to node:net (checked as in socket_fd).
static napi_value js_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], r;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!need_args(env, argc, 1, "handleFd(handle)")) return NULL;
  int fd = socket_fd(env, argv[0], "handleFd");
  if (fd < 0) return NULL;
  napi_create_int32(env, fd, &r);
  return r;
}

// socketRef(fd) -> a reference to a socket opened elsewhere (e.g. one net.Server accepted).
static napi_value js_socket_ref(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (!need_args(env, argc, 1, "socketRef(fd)") || !arg_int(env, argv[0], 0, INT32_MAX, &fd, "fd")) return NULL;
  return ref_new(env, fd, "socketRef fstat");
}

// ---------------------------------------------------------------------------------------------
// AF_PACKET

static void on_packet(uv_poll_t* p, int status, int events);

static void packet_stats_read(handle_t* h) {
  struct tpacket_stats st;
  socklen_t l = sizeof st;
  if (h->fd >= 0 && getsockopt(h->fd, SOL_PACKET, PACKET_STATISTICS, &st, &l) == 0) {
    h->stat_packets += st.tp_packets;  // includes drops
    h->stat_drops += st.tp_drops;
  }
}

// A socket error (libuv reports POLLERR as UV_EBADF and stops polling): read and clear the
// socket's own error, watch again, and tell JavaScript, which reopens. A link going down sets
// ENETDOWN on packet sockets bound to it; without this the socket stayed deaf after the link
// came back (issue 13 item 17).
static void packet_error(handle_t* h, int err) {
  napi_env env = h->env;
  if (err == 0) {
    socklen_t l = sizeof err;
    if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0) err = errno;
    // POLLERR with no pending error: polling stays stopped (it would spin); JS must reopen.
    if (err != 0 && !h->closed && !uv_is_active((uv_handle_t*)&h->poll)) uv_poll_start(&h->poll, UV_READABLE, on_packet);
    if (err == 0) err = EIO;
  }
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value argv[1];
  argv[0] = make_errno_error(env, "packet socket receive", err);
  call_ref(h, h->err_cb, 1, argv);
  napi_close_handle_scope(env, scope);
}

static void on_packet(uv_poll_t* p, int status, int events) {
  handle_t* h = p->data;
  if (h->closed) return;
  if (status < 0) {
    packet_error(h, 0);
    return;
  }
  napi_env env = h->env;
  // One callback scope for the whole batch: microtasks and ticks run once after it, not after
  // every frame (a flood of requests is answered at a much higher rate).
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv;
  napi_callback_scope cscope;
  napi_get_reference_value(env, h->cb, &cb);
  napi_get_reference_value(env, h->receiver, &recv);
  napi_open_callback_scope(env, recv, h->actx, &cscope);
  h->in_batch = 1;
  int err = 0;
  // recvmmsg: one system call for up to PACKET_BATCH frames.
  for (int total = 0, rounds = 0; total < MAX_PACKET_READS_PER_EVENT && rounds < MAX_PACKET_READS_PER_EVENT && !h->closed; rounds++) {
    struct mmsghdr mm[PACKET_BATCH];
    struct iovec iov[PACKET_BATCH];
    struct sockaddr_ll sll[PACKET_BATCH];
    memset(mm, 0, sizeof mm);
    for (int k = 0; k < PACKET_BATCH; k++) {
      iov[k].iov_base = packet_slots[k];
      iov[k].iov_len = PACKET_SLOT;
      mm[k].msg_hdr.msg_iov = &iov[k];
      mm[k].msg_hdr.msg_iovlen = 1;
      mm[k].msg_hdr.msg_name = &sll[k];
      mm[k].msg_hdr.msg_namelen = sizeof sll[k];
    }
    int n = recvmmsg(h->fd, mm, PACKET_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
      int e = errno;
      if (e == EINTR) continue;
      if (e != EAGAIN && e != EWOULDBLOCK) err = e;  // a pending socket error, now cleared
      break;
    }
    for (int k = 0; k < n && !h->closed; k++) {
      total++;
      // Our own transmissions are looped back to packet sockets; they are not requests. A frame
      // longer than a slot (never an ARP request or a Neighbor Solicitation) is not passed on.
      if (sll[k].sll_pkttype == PACKET_OUTGOING || (mm[k].msg_hdr.msg_flags & MSG_TRUNC)) continue;
      napi_handle_scope inner;
      napi_open_handle_scope(env, &inner);
      napi_value argv[2], result;
      napi_create_buffer_copy(env, mm[k].msg_len, packet_slots[k], NULL, &argv[0]);
      napi_create_uint32(env, sll[k].sll_pkttype, &argv[1]);
      napi_status st = napi_call_function(env, recv, cb, 2, argv, &result);
      napi_close_handle_scope(env, inner);
      if (st != napi_ok) {
        if (pending(env)) {
          napi_value exc;
          napi_get_and_clear_last_exception(env, &exc);
          napi_fatal_exception(env, exc);
        }
        total = MAX_PACKET_READS_PER_EVENT;
        break;
      }
    }
    if (n < PACKET_BATCH) break;  // drained
  }
  napi_close_callback_scope(env, cscope);
  h->in_batch = 0;
  if (h->closed && h->actx) {
    napi_async_destroy(env, h->actx);
    h->actx = NULL;
  }
  napi_close_handle_scope(env, scope);
  if (err && !h->closed) packet_error(h, err);
}

// An AF_PACKET socket bound to one interface and ethertype, or -1 with an exception thrown.
static int packet_socket(napi_env env, int ifindex, int proto, const char* call) {
  char m[128];
  // Protocol 0 at creation and the real one at bind: no frames from other interfaces slip in.
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(m, sizeof m, "%s socket(AF_PACKET)", call);
    throw_errno(env, m, errno);
    return -1;
  }
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons((uint16_t)proto);
  sll.sll_ifindex = ifindex;
  if (bind(fd, (struct sockaddr*)&sll, sizeof sll) != 0) {
    int e = errno;
    close(fd);
    snprintf(m, sizeof m, "%s bind(AF_PACKET)", call);
    throw_errno(env, m, e);
    return -1;
  }
  return fd;
}

// packetOpen(ifindex, ethertype, onFrame(frame, pkttype), onError(err)) -> handle
static napi_value js_packet_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t ifindex, proto;
  if (!need_args(env, argc, 4, "packetOpen(ifindex, ethertype, onFrame, onError)")) return NULL;
  // ifindex 0 would bind to every interface: refused like any other out-of-range value.
  if (!arg_int(env, argv[0], 1, INT32_MAX, &ifindex, "ifindex") || !arg_int(env, argv[1], 0, 0xffff, &proto, "ethertype") ||
      !want_type(env, argv[2], napi_function, "onFrame", "a function") ||
      !want_type(env, argv[3], napi_function, "onError", "a function"))
    return NULL;
  int fd = packet_socket(env, ifindex, proto, "packetOpen");
  if (fd < 0) return NULL;
  return handle_open(env, K_PACKET, fd, AF_PACKET, argv[2], argv[3], "ironlb.PacketSocket", UV_READABLE, on_packet);
}

static napi_value js_packet_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], r;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!need_args(env, argc, 2, "packetSend(handle, frame)")) return NULL;
  handle_t* h = get_open_handle(env, argv[0], K_PACKET, "packetSend");
  if (!h) return NULL;
  void* data;
  size_t len;
  if (!arg_buffer(env, argv[1], &data, &len)) {
    throw_type(env, "packetSend: frame must be a Buffer");
    return NULL;
  }
  if (len < 14 || len > 65535) {
    throw_range(env, "packetSend: frame must be 14 to 65535 bytes (an Ethernet header and payload)");
    return NULL;
  }
  ssize_t n = send(h->fd, data, len, MSG_DONTWAIT);
  if (n < 0) {
    throw_errno(env, "packetSend send", errno);
    return NULL;
  }
  napi_create_int32(env, (int32_t)n, &r);
  return r;
}

// packetMembership(handle, ifindex, mac Buffer(6), add bool)
static napi_value js_packet_membership(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!need_args(env, argc, 4, "packetMembership(handle, ifindex, mac, add)")) return NULL;
  handle_t* h = get_open_handle(env, argv[0], K_PACKET, "packetMembership");
  int32_t ifindex;
  bool add = false;
  if (!h || !arg_int(env, argv[1], 1, INT32_MAX, &ifindex, "ifindex")) return NULL;
  void* data;
  size_t len;
  if (!arg_buffer(env, argv[2], &data, &len) || len != 6) {
    throw_type(env, "packetMembership: mac must be a 6-byte Buffer");
    return NULL;
  }
  if (!arg_bool(env, argv[3], &add, "add")) return NULL;
  struct packet_mreq mr;
  memset(&mr, 0, sizeof mr);
  mr.mr_ifindex = ifindex;
  mr.mr_type = PACKET_MR_MULTICAST;
  mr.mr_alen = 6;
  memcpy(mr.mr_address, data, 6);
  if (setsockopt(h->fd, SOL_PACKET, add ? PACKET_ADD_MEMBERSHIP : PACKET_DROP_MEMBERSHIP, &mr, sizeof mr) != 0) {
    throw_errno(env, add ? "packetMembership PACKET_ADD_MEMBERSHIP" : "packetMembership PACKET_DROP_MEMBERSHIP", errno);
    return NULL;
  }
  return undefined(env);
}

// packetSetFilter(handle, program Buffer of struct sock_filter[]) : classic BPF, so the kernel
// drops uninteresting frames (e.g. all IPv6 but Neighbor Solicitations) before they reach JS.
static napi_value js_packet_filter(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!need_args(env, argc, 2, "packetSetFilter(handle, program)")) return NULL;
  handle_t* h = get_open_handle(env, argv[0], K_PACKET, "packetSetFilter");
  if (!h) return NULL;
  void* data;
  size_t len;
  if (!arg_buffer(env, argv[1], &data, &len)) {
    throw_type(env, "packetSetFilter: program must be a Buffer of 8-byte BPF instructions");
    return NULL;
  }
  if (len == 0 || len % sizeof(struct sock_filter) != 0 || len / sizeof(struct sock_filter) > BPF_MAXINSNS) {
    throw_range(env, "packetSetFilter: program must be 1 to 4096 BPF instructions of 8 bytes each");
    return NULL;
  }
  struct sock_fprog prog = {.len = (unsigned short)(len / sizeof(struct sock_filter)), .filter = data};
  if (setsockopt(h->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0) {
    throw_errno(env, "packetSetFilter SO_ATTACH_FILTER", errno);
    return NULL;
  }
  return undefined(env);
}

// packetSetReceiveBuffer(handle, bytes) -> the size in effect (the kernel doubles the request
// for its bookkeeping). SO_RCVBUFFORCE (CAP_NET_ADMIN) passes net.core.rmem_max; without the
// capability SO_RCVBUF is used, capped at rmem_max.
static napi_value js_packet_rcvbuf(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], r;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!need_args(env, argc, 2, "packetSetReceiveBuffer(handle, bytes)")) return NULL;
  handle_t* h = get_open_handle(env, argv[0], K_PACKET, "packetSetReceiveBuffer");
  int32_t bytes;
  if (!h || !arg_int(env, argv[1], 4096, 1 << 30, &bytes, "bytes")) return NULL;
  if (setsockopt(h->fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0 &&
      setsockopt(h->fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes) != 0) {
    throw_errno(env, "packetSetReceiveBuffer setsockopt(SO_RCVBUF)", errno);
    return NULL;
  }
  int got = 0;
  socklen_t l = sizeof got;
  if (getsockopt(h->fd, SOL_SOCKET, SO_RCVBUF, &got, &l) != 0) {
    throw_errno(env, "packetSetReceiveBuffer getsockopt(SO_RCVBUF)", errno);
    return NULL;
  }
  napi_create_int32(env, got, &r);
  return r;
}

// packetStats(handle) -> { packets, drops, receiveBuffer }: totals since the socket opened
// (packets includes drops; drops = frames the kernel discarded because the buffer was full).
static napi_value js_packet_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], o, x;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!need_args(env, argc, 1, "packetStats(handle)")) return NULL;
  handle_t* h = get_open_handle(env, argv[0], K_PACKET, "packetStats");
  if (!h) return NULL;
  packet_stats_read(h);
  int rb = 0;
  socklen_t l = sizeof rb;
  getsockopt(h->fd, SOL_SOCKET, SO_RCVBUF, &rb, &l);
  napi_create_object(env, &o);
  napi_create_double(env, (double)h->stat_packets, &x);
  napi_set_named_property(env, o, "packets", x);
  napi_create_double(env, (double)h->stat_drops, &x);
  napi_set_named_property(env, o, "drops", x);
  napi_create_int32(env, rb, &x);
  napi_set_named_property(env, o, "receiveBuffer", x);
  return o;
}

// packetProbe(handle, frame, offset, pattern, mask, count, intervalMs, timeoutMs) -> Float64Array:
// a request/answer latency probe in C (the NDP counterpart of arping, bench/ndp-probe.ts): sends
// `frame` `count` times, `intervalMs` apart, and times each until a received frame (not our own)
// has `pattern` at `offset` under `mask`: µs per request, NaN when none came within `timeoutMs`.
// It blocks the calling thread for the whole run (up to count × (interval + timeout)): for probes
// and benchmarks, never the speaker.
static double mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static napi_value js_packet_probe(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8], res, ab;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!need_args(env, argc, 8, "packetProbe(handle, frame, offset, pattern, mask, count, intervalMs, timeoutMs)")) return NULL;
  handle_t* h = get_open_handle(env, argv[0], K_PACKET, "packetProbe");
  if (!h) return NULL;
  void *frame, *pattern, *mask;
  size_t flen, plen, mlen;
  int32_t off, count, interval_ms, timeout_ms;
  if (!arg_buffer(env, argv[1], &frame, &flen) || flen < 14 || flen > PACKET_SLOT) {
    throw_type(env, "packetProbe: frame must be a Buffer of 14 to 4096 bytes");
    return NULL;
  }
  if (!arg_int(env, argv[2], 0, PACKET_SLOT - 1, &off, "offset")) return NULL;
  if (!arg_buffer(env, argv[3], &pattern, &plen) || !arg_buffer(env, argv[4], &mask, &mlen) || plen == 0 || plen != mlen ||
      (size_t)off + plen > PACKET_SLOT) {
    throw_type(env, "packetProbe: pattern and mask must be Buffers of the same length (1 or more bytes), within 4096 bytes of the frame start");
    return NULL;
  }
  if (!arg_int(env, argv[5], 1, 100000, &count, "count") || !arg_int(env, argv[6], 0, 10000, &interval_ms, "intervalMs") ||
      !arg_int(env, argv[7], 1, 10000, &timeout_ms, "timeoutMs"))
    return NULL;
  double* out = NULL;
  if (napi_create_arraybuffer(env, (size_t)count * sizeof(double), (void**)&out, &ab) != napi_ok) {
    napi_throw_error(env, "ENOMEM", "packetProbe: out of memory");
    return NULL;
  }
  napi_create_typedarray(env, napi_float64_array, (size_t)count, ab, 0, &res);
  uint8_t buf[PACKET_SLOT];
  const uint8_t *pat = pattern, *msk = mask;
  for (int i = 0; i < count; i++) {
    // Whatever is queued (late answers to earlier requests) is not this request's answer.
    for (int k = 0; k < 100000 && recv(h->fd, buf, sizeof buf, MSG_DONTWAIT) >= 0; k++) {
    }
    out[i] = NAN;
    double t0 = mono_us();
    if (send(h->fd, frame, flen, MSG_DONTWAIT) != (ssize_t)flen) continue;
    double deadline = t0 + timeout_ms * 1000.0;
    for (int guard = 0; guard < 1000000; guard++) {
      double now = mono_us();
      if (now >= deadline) break;
      struct pollfd pf = {.fd = h->fd, .events = POLLIN};
      int wait = (int)((deadline - now) / 1000.0) + 1;
      if (poll(&pf, 1, wait) <= 0) continue;
      struct sockaddr_ll sll;
      socklen_t sl = sizeof sll;
      ssize_t n = recvfrom(h->fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr*)&sll, &sl);
      if (n < 0 || sll.sll_pkttype == PACKET_OUTGOING || (size_t)n < (size_t)off + plen) continue;
      size_t j = 0;
      while (j < plen && ((buf[off + j] ^ pat[j]) & msk[j]) == 0) j++;
      if (j == plen) {
        out[i] = mono_us() - t0;
        break;
      }
    }
    if (interval_ms) {
      struct timespec ts = {.tv_sec = interval_ms / 1000, .tv_nsec = (long)(interval_ms % 1000) * 1000000L};
      while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
      }
    }
  }
  return res;
}

// ---------------------------------------------------------------------------------------------
// interface facts (rtnetlink RTM_GETLINK dump): a bounded parser over bytes, then JS objects

typedef struct {
  uint32_t index, flags, type, mtu, master;
  int has_mtu, has_operstate, has_name;
  uint8_t operstate;
  char name[IFNAMSIZ];
  char mac[3 * 32];
  char kind[32];
  char slave_kind[32];
} link_t;

static uint16_t rd16(const uint8_t* p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}
static uint32_t rd32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

// Copies a netlink string attribute of `len` bytes: at most cap-1 bytes, stopping at a NUL,
// never reading past `len`; bytes outside printable ASCII-or-UTF-8 are kept (names are bytes).
static void copy_nl_str(char* out, size_t cap, const uint8_t* p, size_t len) {
  size_t n = strnlen((const char*)p, len);
  if (n > cap - 1) n = cap - 1;
  memcpy(out, p, n);
  out[n] = 0;
}

// Walks attributes in [p, p+len): calls fn(type, payload, payload_len). Stops at the first
// attribute whose length is below the header or past the end. Returns 0 if it stopped early.
typedef void (*attr_fn)(link_t* l, uint16_t type, const uint8_t* data, size_t len);
static int walk_attrs(link_t* l, const uint8_t* p, size_t len, attr_fn fn) {
  size_t off = 0;
  for (int guard = 0; off + 4 <= len && guard < 4096; guard++) {
    uint16_t alen = rd16(p + off), type = rd16(p + off + 2) & NLA_TYPE_MASK;
    if (alen < 4 || alen > len - off) return 0;
    fn(l, type, p + off + 4, (size_t)alen - 4);
    off += (size_t)RTA_ALIGN(alen);
  }
  return off >= len;
}

static void linkinfo_attr(link_t* l, uint16_t type, const uint8_t* d, size_t n) {
  if (type == IFLA_INFO_KIND) copy_nl_str(l->kind, sizeof l->kind, d, n);
  if (type == IFLA_INFO_SLAVE_KIND) copy_nl_str(l->slave_kind, sizeof l->slave_kind, d, n);
}

static void link_attr(link_t* l, uint16_t type, const uint8_t* d, size_t n) {
  switch (type) {
    case IFLA_IFNAME:
      copy_nl_str(l->name, sizeof l->name, d, n);
      l->has_name = 1;
      break;
    case IFLA_ADDRESS: {
      size_t bl = n > 32 ? 32 : n, pos = 0;
      l->mac[0] = 0;
      for (size_t i = 0; i < bl; i++) pos += (size_t)snprintf(l->mac + pos, sizeof l->mac - pos, i ? ":%02x" : "%02x", d[i]);
      break;
    }
    case IFLA_MTU:
      if (n >= 4) l->mtu = rd32(d), l->has_mtu = 1;
      break;
    case IFLA_MASTER:
      if (n >= 4) l->master = rd32(d);
      break;
    case IFLA_OPERSTATE:
      if (n >= 1) l->operstate = d[0], l->has_operstate = 1;
      break;
    case IFLA_LINKINFO:
      walk_attrs(l, d, n, linkinfo_attr);
      break;
  }
}

// One RTM_NEWLINK body (after the nlmsghdr) of `len` bytes. 0 if too short for an ifinfomsg.
static int parse_link(const uint8_t* p, size_t len, link_t* l) {
  memset(l, 0, sizeof *l);
  if (len < sizeof(struct ifinfomsg)) return 0;
  struct ifinfomsg ifm;
  memcpy(&ifm, p, sizeof ifm);
  l->index = (uint32_t)ifm.ifi_index;
  l->flags = ifm.ifi_flags;
  l->type = ifm.ifi_type;
  size_t off = NLMSG_ALIGN(sizeof ifm);
  if (off < len) walk_attrs(l, p + off, len - off, link_attr);
  return 1;
}

// Walks a buffer of netlink messages, calling fn for each RTM_NEWLINK/RTM_DELLINK (with the
// message type). Returns 1 after NLMSG_DONE, 0 at the end of the buffer, -errno for NLMSG_ERROR,
// -EBADMSG for a malformed header (nothing after it is trusted).
typedef void (*link_fn)(void* ctx, uint16_t msg_type, const link_t* l);
static int parse_link_messages(const uint8_t* buf, size_t len, link_fn fn, void* ctx) {
  size_t off = 0;
  for (int guard = 0; off < len && guard < 65536; guard++) {
    if (len - off < sizeof(struct nlmsghdr)) return -EBADMSG;
    struct nlmsghdr nh;
    memcpy(&nh, buf + off, sizeof nh);
    if (nh.nlmsg_len < sizeof nh || nh.nlmsg_len > len - off) return -EBADMSG;
    const uint8_t* body = buf + off + NLMSG_HDRLEN;
    size_t blen = nh.nlmsg_len - NLMSG_HDRLEN;
    if (nh.nlmsg_type == NLMSG_DONE) return 1;
    if (nh.nlmsg_type == NLMSG_ERROR) {
      if (blen < sizeof(int)) return -EBADMSG;
      int e;
      memcpy(&e, body, sizeof e);
      if (e == 0) return 1;  // an ACK
      return e < 0 && e > -4096 ? e : -EIO;
    }
    if (nh.nlmsg_type == RTM_NEWLINK || nh.nlmsg_type == RTM_DELLINK) {
      link_t l;
      if (parse_link(body, blen, &l)) fn(ctx, nh.nlmsg_type, &l);
    }
    off += NLMSG_ALIGN(nh.nlmsg_len);
  }
  return 0;
}

static void set_u32(napi_env env, napi_value o, const char* k, uint32_t v) {
  napi_value x;
  napi_create_uint32(env, v, &x);
  napi_set_named_property(env, o, k, x);
}
static void set_str(napi_env env, napi_value o, const char* k, const char* v) {
  napi_value x;
  napi_create_string_utf8(env, v, NAPI_AUTO_LENGTH, &x);
  napi_set_named_property(env, o, k, x);
}

// ---------------------------------------------------------------------------------------------
// responder: ARP requests and Neighbor Solicitations answered natively (issue 12)
//
// JavaScript decides which addresses are announced on which interface (announce and withdraw,
// gratuitous ARP, unsolicited NA, MLD, metrics) and installs them here: a table of address -> MAC
// per responder socket (a socket is bound to one interface: the table is (address, interface) ->
// MAC). Each responder socket has its own thread blocked in poll(): a request is answered from
// that thread with one send, never waking JavaScript, so a busy or collecting main thread does
// not delay answers (the JavaScript path cost ~230 µs median in the lab against MetalLB's ~10).
// The table and every answer are under one mutex: once packetAnswer(h, ip, null) returns, no
// answer for ip is sent any more (a batch being answered finishes first; a batch read later sees
// the new table).
// Hostile input: every length is checked before a byte is read; frames that fail are counted
// (dropped, reason "malformed") and never answered. answer_frame() is pure: the fuzz tests call
// it through answerFrame() and compare it with the JavaScript codecs.

#define RESP_MAX_ENTRIES 65536
#define RESP_REPLY_MAX 96
#define RESP_MAX_EXT_HEADERS 4  // as MAX_EXTENSION_HEADERS in src/layer2/ndp.ts
#define RESP_STACK (256 * 1024)

enum {
  DROP_MALFORMED,
  DROP_SENDER_MULTICAST,
  DROP_SENDER_BROADCAST,
  DROP_SENDER_MAC_GROUP,
  DROP_SOURCE_MULTICAST,
  DROP_DAD_NOT_SOLICITED_NODE,
  DROP_DESTINATION_NOT_TARGET,
  DROP_REASONS
};
static const char* const drop_names[DROP_REASONS] = {"malformed",        "sender-multicast",       "sender-broadcast",      "sender-mac-group",
                                                     "source-multicast", "dad-not-solicited-node", "destination-not-target"};

typedef struct {
  uint8_t addr[16];  // IPv4 in the first 4 bytes
  uint8_t mac[6];
} answer_t;

enum { V_IGNORE, V_ANSWER, V_DROP };
typedef struct {
  int action;
  int reason;   // V_DROP: DROP_*
  int request;  // a well-formed ARP request / Neighbor Solicitation (counted as a request)
  size_t len;   // V_ANSWER: the reply's bytes in out
  uint8_t out[RESP_REPLY_MAX];
} verdict_t;

static uint16_t be16(const uint8_t* p) { return (uint16_t)((p[0] << 8) | p[1]); }

// Binary search in the sorted table: the index of addr, or where it would go (*found = 0).
static size_t answer_pos(const answer_t* t, size_t n, int alen, const uint8_t* addr, int* found) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = memcmp(t[mid].addr, addr, (size_t)alen);
    if (c == 0) {
      *found = 1;
      return mid;
    }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  *found = 0;
  return lo;
}

static const answer_t* answer_find(const answer_t* t, size_t n, int alen, const uint8_t* addr) {
  int found = 0;
  size_t i = answer_pos(t, n, alen, addr, &found);
  return found ? &t[i] : NULL;
}

static void drop(verdict_t* v, int reason) {
  v->action = V_DROP;
  v->reason = reason;
}

// As decodeArp + InterfaceResponder.onArp + arpRequestDropReason + arpReply (src/layer2).
static void verdict_arp(const answer_t* t, size_t n, const uint8_t* f, size_t len, int pkttype, verdict_t* v) {
  const size_t o = 14;
  if (len < o + 28 || be16(f + 12) != 0x0806 || be16(f + o) != 1 || be16(f + o + 2) != 0x0800 || f[o + 4] != 6 || f[o + 5] != 4) {
    drop(v, DROP_MALFORMED);
    return;
  }
  uint16_t op = be16(f + o + 6);
  if (op != 1) {
    if (op != 2) drop(v, DROP_MALFORMED);  // a reply is not ours to answer; anything else is not ARP
    return;
  }
  v->request = 1;
  // Broadcast, or unicast to our MAC (a refresh probe); never frames for other hosts.
  if (pkttype != PACKET_BROADCAST && pkttype != PACKET_HOST) return;
  const uint8_t *smac = f + o + 8, *sip = f + o + 14, *tip = f + o + 24;
  const answer_t* e = answer_find(t, n, 4, tip);
  if (!e || !memcmp(sip, tip, 4)) return;  // not ours, or someone else's gratuitous ARP
  static const uint8_t bcast[4] = {255, 255, 255, 255};
  if (sip[0] >= 224 && sip[0] <= 239) { drop(v, DROP_SENDER_MULTICAST); return; }
  if (!memcmp(sip, bcast, 4)) { drop(v, DROP_SENDER_BROADCAST); return; }
  if (smac[0] & 1) { drop(v, DROP_SENDER_MAC_GROUP); return; }
  uint8_t* r = v->out;
  memset(r, 0, 60);  // padded to the Ethernet minimum
  memcpy(r, smac, 6);
  memcpy(r + 6, e->mac, 6);
  r[12] = 0x08, r[13] = 0x06;
  r[15] = 1, r[16] = 0x08, r[18] = 6, r[19] = 4, r[21] = 2;
  memcpy(r + 22, e->mac, 6);
  memcpy(r + 28, tip, 4);
  memcpy(r + 32, smac, 6);
  memcpy(r + 38, sip, 4);
  v->len = 60;
  v->action = V_ANSWER;
}

static uint32_t sum16(uint32_t sum, const uint8_t* p, size_t len) {
  for (size_t i = 0; i + 1 < len; i += 2) sum += (uint32_t)((p[i] << 8) | p[i + 1]);
  if (len & 1) sum += (uint32_t)p[len - 1] << 8;
  return sum;
}

// ICMPv6 checksum (RFC 4443 2.3) of msg[0, len) with its checksum field (bytes 2-3) taken as zero.
static uint16_t icmp6_checksum(const uint8_t* src, const uint8_t* dst, const uint8_t* msg, size_t len) {
  uint32_t sum = sum16(0, src, 16);
  sum = sum16(sum, dst, 16);
  sum += (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff) + 58;
  sum = sum16(sum, msg, 2);
  if (len > 4) sum = sum16(sum, msg + 4, len - 4);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)(~sum & 0xffff);
}

// As decodeNdp + InterfaceResponder.onNdp + nsDropReason + naReply (src/layer2).
static void verdict_ns(const answer_t* t, size_t n, const uint8_t* f, size_t len, int pkttype, verdict_t* v) {
  const size_t ip = 14;
  if (len < ip + 40 || be16(f + 12) != 0x86dd || (f[ip] >> 4) != 6) { drop(v, DROP_MALFORMED); return; }
  size_t end = ip + 40 + be16(f + ip + 4);
  if (end > len) { drop(v, DROP_MALFORMED); return; }
  // The extension header chain (RFC 8200 4): Hop-by-Hop (first only), Destination Options and
  // Routing are skipped, at most RESP_MAX_EXT_HEADERS, each inside the payload.
  uint8_t next = f[ip + 6];
  size_t off = ip + 40;
  for (int i = 0; next != 58; i++) {
    if (next != 0 && next != 43 && next != 60) return;  // another upper layer (an MLD report ...) or a Fragment
    if ((next == 0 && i > 0) || i == RESP_MAX_EXT_HEADERS || end - off < 8) { drop(v, DROP_MALFORMED); return; }
    size_t hl = ((size_t)f[off + 1] + 1) * 8;
    if (hl > end - off) { drop(v, DROP_MALFORMED); return; }
    next = f[off];
    off += hl;
  }
  const uint8_t* m = f + off;
  size_t mlen = end - off;
  if (mlen < 4) { drop(v, DROP_MALFORMED); return; }
  if (m[0] != 135) return;  // not a Neighbor Solicitation
  // RFC 4861 7.1.1 validity.
  const uint8_t *src = f + ip + 8, *dst = f + ip + 24, *target = m + 8;
  if (mlen < 24 || f[ip + 7] != 255 || m[1] != 0 || icmp6_checksum(src, dst, m, mlen) != be16(m + 2) || target[0] == 0xff)
    { drop(v, DROP_MALFORMED); return; }
  const uint8_t* lla = NULL;
  for (size_t o = 24; o < mlen;) {
    if (mlen - o < 2) { drop(v, DROP_MALFORMED); return; }
    size_t ol = (size_t)m[o + 1] * 8;
    if (ol == 0 || ol > mlen - o) { drop(v, DROP_MALFORMED); return; }
    if (m[o] == 1) lla = m + o + 2;  // source link-layer address (ol >= 8)
    o += ol;
  }
  static const uint8_t unspecified[16] = {0};
  int dad = !memcmp(src, unspecified, 16);
  if (dad && lla) { drop(v, DROP_MALFORMED); return; }
  v->request = 1;
  if (pkttype != PACKET_MULTICAST && pkttype != PACKET_HOST) return;
  const answer_t* e = answer_find(t, n, 16, target);
  if (!e) return;
  // Resolution goes to the target's solicited-node group, a reachability probe (with or without
  // a source link-layer option) to the target itself, DAD only to the group.
  if (src[0] == 0xff) { drop(v, DROP_SOURCE_MULTICAST); return; }
  const uint8_t group[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, target[13], target[14], target[15]};
  if (dad && memcmp(dst, group, 16)) { drop(v, DROP_DAD_NOT_SOLICITED_NODE); return; }
  if (!dad && memcmp(dst, group, 16) && memcmp(dst, target, 16)) { drop(v, DROP_DESTINATION_NOT_TARGET); return; }
  // The NA: Solicited + Override to the solicitor (at its link-layer option, else the frame's
  // source), or for DAD Override only to all-nodes; with our target link-layer address.
  static const uint8_t all_nodes_mac[6] = {0x33, 0x33, 0, 0, 0, 1};
  static const uint8_t all_nodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  uint8_t* r = v->out;
  memset(r, 0, 86);
  memcpy(r, dad ? all_nodes_mac : lla ? lla : f + 6, 6);
  memcpy(r + 6, e->mac, 6);
  r[12] = 0x86, r[13] = 0xdd;
  uint8_t* x = r + 14;
  x[0] = 0x60, x[5] = 32, x[6] = 58, x[7] = 255;
  memcpy(x + 8, e->addr, 16);
  memcpy(x + 24, dad ? all_nodes : src, 16);
  uint8_t* a = x + 40;
  a[0] = 136;
  a[4] = dad ? 0x20 : 0x60;
  memcpy(a + 8, e->addr, 16);
  a[24] = 2, a[25] = 1;
  memcpy(a + 26, e->mac, 6);
  uint16_t c = icmp6_checksum(x + 8, x + 24, a, 32);
  a[2] = (uint8_t)(c >> 8), a[3] = (uint8_t)c;
  v->len = 86;
  v->action = V_ANSWER;
}

// The verdict on one received frame: alen 4 = ARP socket, 16 = IPv6 socket.
static void answer_frame(int alen, const answer_t* t, size_t n, const uint8_t* f, size_t len, int pkttype, verdict_t* v) {
  v->action = V_IGNORE;
  v->reason = 0;
  v->request = 0;
  v->len = 0;
  if (alen == 4) verdict_arp(t, n, f, len, pkttype, v);
  else verdict_ns(t, n, f, len, pkttype, v);
}

typedef struct responder {
  int alen;  // 4: ARP socket, 16: IPv6 socket
  int fd;
  int stop_fd;  // eventfd: wakes the thread to exit
  pthread_t thread;
  int thread_started;
  pthread_mutex_t lock;  // the table, and each batch of answers
  answer_t* table;       // sorted by address
  size_t n, cap;
  uv_async_t async;  // socket errors, to JavaScript on the main loop
  int async_init;
  _Atomic int pending_err;
  _Atomic uint64_t frames, requests, replies, send_errors, dropped[DROP_REASONS];
  unsigned char slots[PACKET_BATCH][PACKET_SLOT];
} responder_t;

static void responder_report(responder_t* r, int err) {
  atomic_store(&r->pending_err, err);
  uv_async_send(&r->async);
}

// Reads what is queued (bounded as on_packet) and answers it.
static void responder_drain(responder_t* r) {
  struct mmsghdr mm[PACKET_BATCH];
  struct iovec iov[PACKET_BATCH];
  struct sockaddr_ll sll[PACKET_BATCH];
  for (int round = 0; round < MAX_PACKET_READS_PER_EVENT / PACKET_BATCH; round++) {
    memset(mm, 0, sizeof mm);
    for (int k = 0; k < PACKET_BATCH; k++) {
      iov[k].iov_base = r->slots[k];
      iov[k].iov_len = PACKET_SLOT;
      mm[k].msg_hdr.msg_iov = &iov[k];
      mm[k].msg_hdr.msg_iovlen = 1;
      mm[k].msg_hdr.msg_name = &sll[k];
      mm[k].msg_hdr.msg_namelen = sizeof sll[k];
    }
    int n = recvmmsg(r->fd, mm, PACKET_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) responder_report(r, errno);  // a pending socket error, now cleared
      return;
    }
    pthread_mutex_lock(&r->lock);
    atomic_fetch_add_explicit(&r->frames, (uint64_t)n, memory_order_relaxed);
    for (int k = 0; k < n; k++) {
      if (sll[k].sll_pkttype == PACKET_OUTGOING) continue;  // our own transmissions, looped back
      if (mm[k].msg_hdr.msg_flags & MSG_TRUNC) {            // longer than a slot: never a request
        atomic_fetch_add_explicit(&r->dropped[DROP_MALFORMED], 1, memory_order_relaxed);
        continue;
      }
      verdict_t v;
      answer_frame(r->alen, r->table, r->n, r->slots[k], mm[k].msg_len, sll[k].sll_pkttype, &v);
      if (v.request) atomic_fetch_add_explicit(&r->requests, 1, memory_order_relaxed);
      if (v.action == V_DROP) {
        atomic_fetch_add_explicit(&r->dropped[v.reason], 1, memory_order_relaxed);
      } else if (v.action == V_ANSWER) {
        ssize_t s = send(r->fd, v.out, v.len, MSG_DONTWAIT);
        atomic_fetch_add_explicit(s == (ssize_t)v.len ? &r->replies : &r->send_errors, 1, memory_order_relaxed);
      }
    }
    pthread_mutex_unlock(&r->lock);
    if (n < PACKET_BATCH) return;  // drained
  }
}

static void* responder_main(void* arg) {
  responder_t* r = arg;
  int watch = 1;
  for (;;) {
    struct pollfd pf[2] = {{.fd = r->stop_fd, .events = POLLIN}, {.fd = r->fd, .events = POLLIN}};
    int rc = poll(pf, watch ? 2 : 1, -1);
    if (rc < 0) {
      if (errno == ENOMEM) usleep(1000);
      continue;  // EINTR (signals are blocked here, but ptrace ...)
    }
    if (pf[0].revents) break;
    short re = pf[1].revents;
    if (re & (POLLERR | POLLHUP | POLLNVAL)) {
      // ENETDOWN when the link goes down: reading SO_ERROR clears it and polling goes on; the
      // owner hears of it and reopens (what was missed is unknown). With no error to clear,
      // polling would spin: stop reading, and report EIO so that the owner reopens.
      int err = 0;
      socklen_t l = sizeof err;
      if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0) err = errno;
      if (err == 0 || (re & POLLNVAL)) {
        if (err == 0) err = EIO;
        watch = 0;
      }
      responder_report(r, err);
    }
    if (watch && (re & POLLIN)) responder_drain(r);
  }
  return NULL;
}

static void responder_on_async(uv_async_t* a) {
  handle_t* h = a->data;
  if (h->closed || !h->resp) return;
  int err = atomic_exchange(&h->resp->pending_err, 0);
  if (!err) return;
  napi_env env = h->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value argv[1];
  argv[0] = make_errno_error(env, "packet socket receive", err);
  call_ref(h, h->err_cb, 1, argv);
  napi_close_handle_scope(env, scope);
}

static void responder_async_closed(uv_handle_t* a) {
  handle_t* h = a->data;
  h->poll_closed = 1;
  maybe_free(h);
}

// From handle_close: stops and joins the thread (before the fd closes), then closes the async.
static void responder_close(handle_t* h) {
  responder_t* r = h->resp;
  if (r->thread_started) {
    uint64_t one = 1;
    while (write(r->stop_fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
    pthread_join(r->thread, NULL);
    r->thread_started = 0;
  }
  if (r->async_init) {
    uv_unref((uv_handle_t*)&r->async);
    uv_close((uv_handle_t*)&r->async, responder_async_closed);
  } else {
    h->poll_closed = 1;
  }
}

static void responder_free(responder_t* r) {
  if (r->stop_fd >= 0) close(r->stop_fd);
  pthread_mutex_destroy(&r->lock);
  free(r->table);
  free(r);
}

static void responder_ref(responder_t* r, int ref) {
  if (!r->async_init) return;
  if (ref) uv_ref((uv_handle_t*)&r->async);
  else uv_unref((uv_handle_t*)&r->async);
}

// packetResponderOpen(ifindex, ethertype (0x0806 ARP | 0x86dd IPv6), onError(err)) -> handle: a
// packet socket that answers ARP requests / Neighbor Solicitations for the addresses installed
// with packetAnswer, from a thread of its own. The other packet calls (send, filter, membership,
// buffer, stats) work on it as on packetOpen's sockets; no frame reaches JavaScript.
static napi_value js_packet_responder_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t ifindex, proto;
  if (!need_args(env, argc, 3, "packetResponderOpen(ifindex, ethertype, onError)")) return NULL;
  if (!arg_int(env, argv[0], 1, INT32_MAX, &ifindex, "ifindex") || !arg_int(env, argv[1], 0, 0xffff, &proto, "ethertype") ||
      !want_type(env, argv[2], napi_function, "onError", "a function"))
    return NULL;
  if (proto != 0x0806 && proto != 0x86dd) {
    throw_range(env, "packetResponderOpen: ethertype must be 0x0806 (ARP) or 0x86dd (IPv6, Neighbor Solicitations)");
    return NULL;
  }
  int fd = packet_socket(env, ifindex, proto, "packetResponderOpen");
  if (fd < 0) return NULL;
  napi_value ext;
  handle_t* h = handle_new(env, K_PACKET, fd, AF_PACKET, argv[2], argv[2], "ironlb.PacketResponder", &ext);
  if (!h) return NULL;
  responder_t* r = calloc(1, sizeof *r);
  if (!r) {
    handle_close(h);
    napi_throw_error(env, "ENOMEM", "out of memory allocating a packet responder");
    return NULL;
  }
  r->alen = proto == 0x0806 ? 4 : 16;
  r->fd = fd;
  r->stop_fd = -1;
  pthread_mutex_init(&r->lock, NULL);
  h->resp = r;
  const char* call = NULL;
  int e = 0;
  uv_loop_t* loop;
  napi_get_uv_event_loop(env, &loop);
  r->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (r->stop_fd < 0) {
    e = errno;
    call = "packetResponderOpen eventfd";
  } else if ((e = -uv_async_init(loop, &r->async, responder_on_async)) != 0) {
    call = "packetResponderOpen uv_async_init";
  } else {
    r->async.data = h;
    r->async_init = 1;
    // Signals stay with Node's threads: the responder thread blocks them all.
    sigset_t all, old;
    sigfillset(&all);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, RESP_STACK);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    e = pthread_create(&r->thread, &attr, responder_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (e) call = "packetResponderOpen pthread_create";
    else r->thread_started = 1;
  }
  if (e) {
    handle_close(h);
    throw_errno(env, call, e);
    return NULL;
  }
  return ext;
}

static responder_t* get_responder(napi_env env, napi_value v, const char* call) {
  handle_t* h = get_open_handle(env, v, K_PACKET, call);
  if (!h) return NULL;
  if (!h->resp) {
    char m[200];
    snprintf(m, sizeof m, "%s: handle must be a responder packet socket (from packetResponderOpen), got a plain packet socket", call);
    throw_type(env, m);
    return NULL;
  }
  return h->resp;
}

// packetAnswer(handle, address Buffer(4 | 16), mac Buffer(6) | null) -> boolean: installs (or with
// null removes) the answer for one address. True when the table changed. On return the thread
// answers with the new table (see the section's comment).
static napi_value js_packet_answer(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], res;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!need_args(env, argc, 3, "packetAnswer(handle, address, mac)")) return NULL;
  responder_t* r = get_responder(env, argv[0], "packetAnswer");
  if (!r) return NULL;
  void *addr, *mac = NULL;
  size_t alen, mlen = 0;
  if (!arg_buffer(env, argv[1], &addr, &alen) || alen != (size_t)r->alen) {
    throw_range(env, r->alen == 4 ? "packetAnswer: address must be a 4-byte Buffer (IPv4) on an ARP responder"
                                  : "packetAnswer: address must be a 16-byte Buffer (IPv6) on an IPv6 responder");
    return NULL;
  }
  napi_valuetype mt = type_of(env, argv[2]);
  if (mt != napi_null && mt != napi_undefined) {
    if (!arg_buffer(env, argv[2], &mac, &mlen) || mlen != 6) {
      throw_type(env, "packetAnswer: mac must be a 6-byte Buffer, or null to stop answering");
      return NULL;
    }
    if (((const uint8_t*)mac)[0] & 1) {
      throw_range(env, "packetAnswer: mac must be a unicast MAC (the group bit of the first byte clear)");
      return NULL;
    }
  }
  int changed = 0, err = 0;
  pthread_mutex_lock(&r->lock);
  int found = 0;
  size_t i = answer_pos(r->table, r->n, r->alen, addr, &found);
  if (!mac) {
    if (found) {
      memmove(&r->table[i], &r->table[i + 1], (r->n - i - 1) * sizeof *r->table);
      r->n--;
      changed = 1;
    }
  } else if (found) {
    changed = memcmp(r->table[i].mac, mac, 6) != 0;
    memcpy(r->table[i].mac, mac, 6);
  } else if (r->n >= RESP_MAX_ENTRIES) {
    err = ENOSPC;
  } else {
    if (r->n == r->cap) {
      size_t cap = r->cap ? r->cap * 2 : 16;
      answer_t* t = realloc(r->table, cap * sizeof *t);
      if (!t) err = ENOMEM;
      else r->table = t, r->cap = cap;
    }
    if (!err) {
      memmove(&r->table[i + 1], &r->table[i], (r->n - i) * sizeof *r->table);
      memset(&r->table[i], 0, sizeof *r->table);
      memcpy(r->table[i].addr, addr, (size_t)r->alen);
      memcpy(r->table[i].mac, mac, 6);
      r->n++;
      changed = 1;
    }
  }
  pthread_mutex_unlock(&r->lock);
  if (err == ENOSPC) {
    throw_range(env, "packetAnswer: at most 65536 addresses per responder socket");
    return NULL;
  }
  if (err) {
    throw_errno(env, "packetAnswer (growing the table)", err);
    return NULL;
  }
  napi_get_boolean(env, changed, &res);
  return res;
}

static void set_f64(napi_env env, napi_value o, const char* k, double v) {
  napi_value x;
  napi_create_double(env, v, &x);
  napi_set_named_property(env, o, k, x);
}

// packetResponderStats(handle) -> { addresses, frames, requests, replies, sendErrors, dropped: { reason: n } }:
// totals since the socket opened.
static napi_value js_packet_responder_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], o, d;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!need_args(env, argc, 1, "packetResponderStats(handle)")) return NULL;
  responder_t* r = get_responder(env, argv[0], "packetResponderStats");
  if (!r) return NULL;
  pthread_mutex_lock(&r->lock);
  size_t n = r->n;
  pthread_mutex_unlock(&r->lock);
  napi_create_object(env, &o);
  set_f64(env, o, "addresses", (double)n);
  set_f64(env, o, "frames", (double)atomic_load(&r->frames));
  set_f64(env, o, "requests", (double)atomic_load(&r->requests));
  set_f64(env, o, "replies", (double)atomic_load(&r->replies));
  set_f64(env, o, "sendErrors", (double)atomic_load(&r->send_errors));
  napi_create_object(env, &d);
  for (int k = 0; k < DROP_REASONS; k++) set_f64(env, d, drop_names[k], (double)atomic_load(&r->dropped[k]));
  napi_set_named_property(env, o, "dropped", d);
  return o;
}

// answerFrame(ethertype, frame, pktType, address Buffer | null, mac Buffer | null) ->
// { action: "answer" | "drop" | "ignore", request, reason?, reply? }: the responder's verdict on
// one frame with a table of at most one address, without a socket (tests and fuzzing).
static napi_value js_answer_frame(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], o, x;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!need_args(env, argc, 5, "answerFrame(ethertype, frame, pktType, address, mac)")) return NULL;
  int32_t proto, pkttype;
  if (!arg_int(env, argv[0], 0, 0xffff, &proto, "ethertype")) return NULL;
  if (proto != 0x0806 && proto != 0x86dd) {
    throw_range(env, "answerFrame: ethertype must be 0x0806 (ARP) or 0x86dd (IPv6)");
    return NULL;
  }
  int alen = proto == 0x0806 ? 4 : 16;
  void *frame, *addr = NULL, *mac = NULL;
  size_t flen, addrlen = 0, mlen = 0;
  if (!arg_buffer(env, argv[1], &frame, &flen)) {
    throw_type(env, "answerFrame: frame must be a Buffer");
    return NULL;
  }
  if (!arg_int(env, argv[2], 0, 255, &pkttype, "pktType")) return NULL;
  answer_t entry;
  memset(&entry, 0, sizeof entry);
  size_t n = 0;
  if (type_of(env, argv[3]) != napi_null) {
    if (!arg_buffer(env, argv[3], &addr, &addrlen) || addrlen != (size_t)alen || !arg_buffer(env, argv[4], &mac, &mlen) || mlen != 6) {
      throw_type(env, "answerFrame: address must be a Buffer of 4 (ARP) or 16 (IPv6) bytes and mac a 6-byte Buffer, or address null");
      return NULL;
    }
    memcpy(entry.addr, addr, (size_t)alen);
    memcpy(entry.mac, mac, 6);
    n = 1;
  }
  // The frame is copied to a buffer of exactly its length, so that ASan sees any over-read.
  uint8_t* copy = malloc(flen ? flen : 1);
  if (!copy) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  if (flen) memcpy(copy, frame, flen);
  verdict_t v;
  answer_frame(alen, &entry, n, copy, flen, pkttype, &v);
  free(copy);
  napi_create_object(env, &o);
  set_str(env, o, "action", v.action == V_ANSWER ? "answer" : v.action == V_DROP ? "drop" : "ignore");
  napi_get_boolean(env, v.request, &x);
  napi_set_named_property(env, o, "request", x);
  if (v.action == V_DROP) set_str(env, o, "reason", drop_names[v.reason]);
  if (v.action == V_ANSWER) {
    napi_create_buffer_copy(env, v.len, v.out, NULL, &x);
    napi_set_named_property(env, o, "reply", x);
  }
  return o;
}


typedef struct {
  napi_env env;
  napi_value arr;
  uint32_t count;
} link_array_t;

static void push_link(void* ctx, uint16_t msg_type, const link_t* l) {
  link_array_t* a = ctx;
  if (msg_type != RTM_NEWLINK) return;
  napi_env env = a->env;
  napi_value o;
  napi_create_object(env, &o);
  set_u32(env, o, "index", l->index);
  set_u32(env, o, "flags", l->flags);
  set_u32(env, o, "type", l->type);
  set_u32(env, o, "master", l->master);
  set_str(env, o, "name", l->name);
  set_str(env, o, "mac", l->mac);
  set_str(env, o, "kind", l->kind);
  set_str(env, o, "slaveKind", l->slave_kind);
  if (l->has_mtu) set_u32(env, o, "mtu", l->mtu);
  if (l->has_operstate) set_u32(env, o, "operState", l->operstate);
  napi_set_element(env, a->arr, a->count++, o);
}

static napi_value js_interfaces(napi_env env, napi_callback_info info) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) {
    throw_errno(env, "interfaces socket(AF_NETLINK)", errno);
    return NULL;
  }
  struct timeval tv = {.tv_sec = 2, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct {
    struct nlmsghdr nh;
    struct ifinfomsg ifm;
  } req;
  memset(&req, 0, sizeof req);
  req.nh.nlmsg_len = sizeof req;
  req.nh.nlmsg_type = RTM_GETLINK;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.nh.nlmsg_seq = 1;
  req.ifm.ifi_family = AF_UNSPEC;
  if (send(fd, &req, sizeof req, 0) < 0) {
    int e = errno;
    close(fd);
    throw_errno(env, "interfaces send(RTM_GETLINK)", e);
    return NULL;
  }
  link_array_t a = {.env = env, .count = 0};
  napi_create_array(env, &a.arr);
  int done = 0;
  // Bounded: a dump is a handful of datagrams; 10000 is far beyond any real host.
  for (int rounds = 0; !done && rounds < 10000; rounds++) {
    ssize_t n = recv(fd, recv_buf, sizeof recv_buf, MSG_TRUNC);
    if (n < 0 && errno == EINTR) continue;
    int e = n < 0 ? errno : (size_t)n > sizeof recv_buf ? EMSGSIZE : 0;
    int r = e ? 0 : parse_link_messages(recv_buf, (size_t)n, push_link, &a);
    if (!e && r < 0) e = -r;
    if (e) {
      close(fd);
      throw_errno(env, "interfaces recv(RTM_GETLINK)", e);
      return NULL;
    }
    done = r == 1;
  }
  close(fd);
  return a.arr;
}

// parseLinkMessages(bytes) -> links: the dump parser on given bytes (tests and fuzzing). The
// bytes are copied to an allocation of exactly their size, so a sanitizer sees any over-read.
static napi_value js_parse_link_messages(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!need_args(env, argc, 1, "parseLinkMessages(bytes)")) return NULL;
  void* data;
  size_t len;
  if (!arg_buffer(env, argv[0], &data, &len)) {
    throw_type(env, "parseLinkMessages: bytes must be a Buffer");
    return NULL;
  }
  uint8_t* copy = malloc(len ? len : 1);
  if (!copy) {
    napi_throw_error(env, "ENOMEM", "parseLinkMessages: out of memory");
    return NULL;
  }
  if (len) memcpy(copy, data, len);
  link_array_t a = {.env = env, .count = 0};
  napi_create_array(env, &a.arr);
  int r = parse_link_messages(copy, len, push_link, &a);
  free(copy);
  if (r < 0) {
    throw_errno(env, "parseLinkMessages", -r);
    return NULL;
  }
  return a.arr;
}

// linkWatch(onChange(downIndexes, overflow)) -> handle: rtnetlink multicast for link and
// address changes. The callback gets the indexes of links any message showed down (not up, or
// up without carrier) so a down/up pair faster than the caller's re-read is never lost; overflow
// is true when the kernel dropped notifications (ENOBUFS) or more than 64 links went down:
// then any link may have flapped.
typedef struct {
  uint32_t down[MAX_DOWN_REPORT];
  int ndown;
  int overflow;
} down_set_t;

static void note_down(void* ctx, uint16_t msg_type, const link_t* l) {
  down_set_t* s = ctx;
  int down = msg_type == RTM_DELLINK || !(l->flags & IFF_UP) || !(l->flags & IFF_RUNNING);
  if (!down) return;
  for (int i = 0; i < s->ndown; i++)
    if (s->down[i] == l->index) return;
  if (s->ndown < MAX_DOWN_REPORT) s->down[s->ndown++] = l->index;
  else s->overflow = 1;
}

static void on_watch(uv_poll_t* p, int status, int events) {
  handle_t* h = p->data;
  if (h->closed) return;
  int any = 0;
  down_set_t s = {.ndown = 0, .overflow = 0};
  if (status < 0) {
    // POLLERR: the pending error (ENOBUFS) is cleared by reading SO_ERROR; poll again.
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (!uv_is_active((uv_handle_t*)&h->poll)) uv_poll_start(&h->poll, UV_READABLE, on_watch);
    s.overflow = 1;
    any = 1;
  }
  for (int i = 0; i < MAX_READS_PER_EVENT; i++) {
    ssize_t n = recv(h->fd, recv_buf, sizeof recv_buf, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {  // overflowed: notifications were lost, any link may have flapped
        s.overflow = 1;
        any = 1;
        continue;
      }
      break;
    }
    any = 1;
    if (parse_link_messages(recv_buf, (size_t)n, note_down, &s) < 0) s.overflow = 1;
  }
  if (!any) return;
  napi_handle_scope scope;
  napi_open_handle_scope(h->env, &scope);
  napi_value argv[2];
  napi_create_array_with_length(h->env, (size_t)s.ndown, &argv[0]);
  for (int i = 0; i < s.ndown; i++) {
    napi_value x;
    napi_create_uint32(h->env, s.down[i], &x);
    napi_set_element(h->env, argv[0], (uint32_t)i, x);
  }
  napi_get_boolean(h->env, s.overflow != 0, &argv[1]);
  call_js(h, 2, argv);
  napi_close_handle_scope(h->env, scope);
}

static napi_value js_link_watch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!need_args(env, argc, 1, "linkWatch(onChange)") || !want_type(env, argv[0], napi_function, "onChange", "a function"))
    return NULL;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) {
    throw_errno(env, "linkWatch socket(AF_NETLINK)", errno);
    return NULL;
  }
  // Room for bursts of notifications (a flap of many links); overflow is still detected.
  int rb = 1 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rb, sizeof rb) != 0) (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (bind(fd, (struct sockaddr*)&sa, sizeof sa) != 0) {
    int e = errno;
    close(fd);
    throw_errno(env, "linkWatch bind(AF_NETLINK)", e);
    return NULL;
  }
  return handle_open(env, K_WATCH, fd, AF_NETLINK, argv[0], NULL, "ironlb.LinkWatch", UV_READABLE, on_watch);
}

// ---------------------------------------------------------------------------------------------
// socket options shared by TCP and UDP

static int set_md5(int fd, int family, const char* peer, const void* key, size_t keylen, const char** call) {
  struct tcp_md5sig md5;
  memset(&md5, 0, sizeof md5);
  if (keylen > TCP_MD5SIG_MAXKEYLEN) {
    *call = "setTcpMd5 (key longer than 80 bytes)";
    return EINVAL;
  }
  if (parse_addr(family, peer, 0, &md5.tcpm_addr) == 0) {
    *call = "setTcpMd5 (peer address does not parse)";
    return EINVAL;
  }
  md5.tcpm_keylen = (uint16_t)keylen;
  if (keylen) memcpy(md5.tcpm_key, key, keylen);
  if (setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &md5, sizeof md5) != 0) {
    *call = keylen ? "setTcpMd5 setsockopt(TCP_MD5SIG)" : "setTcpMd5 setsockopt(TCP_MD5SIG, delete)";
    return errno;
  }
  return 0;
}

static int set_ttl(int fd, int family, int ttl, const char** call) {
  if (family == AF_INET6) {
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl) != 0) {
      *call = "setTtl setsockopt(IPV6_UNICAST_HOPS)";
      return errno;
    }
    // Dual-stack sockets carrying IPv4-mapped peers use the IPv4 option; best effort.
    (void)setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
    return 0;
  }
  if (setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) != 0) {
    *call = "setTtl setsockopt(IP_TTL)";
    return errno;
  }
  return 0;
}

static int set_minttl(int fd, int family, int ttl, const char** call) {
  if (family == AF_INET6) {
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_MINHOPCOUNT, &ttl, sizeof ttl) != 0) {
      *call = "setMinTtl setsockopt(IPV6_MINHOPCOUNT)";
      return errno;
    }
    (void)setsockopt(fd, IPPROTO_IP, IP_MINTTL, &ttl, sizeof ttl);
    return 0;
  }
  if (setsockopt(fd, IPPROTO_IP, IP_MINTTL, &ttl, sizeof ttl) != 0) {
    *call = "setMinTtl setsockopt(IP_MINTTL)";
    return errno;
  }
  return 0;
}

static int set_device(int fd, const char* dev, const char** call) {
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, (socklen_t)strlen(dev)) != 0) {
    *call = "setsockopt(SO_BINDTODEVICE)";
    return errno;
  }
  return 0;
}

static int fd_family_or_throw(napi_env env, int32_t fd, const char* call) {
  int fam = sock_family(fd);
  if (fam < 0) throw_errno(env, call, errno);
  else if (fam != AF_INET && fam != AF_INET6) {
    throw_errno(env, call, EAFNOSUPPORT);
    return -1;
  }
  return fam;
}

// setTcpMd5(socket, peerAddress, key Buffer|null)
static napi_value js_set_tcp_md5(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char peer[INET6_ADDRSTRLEN + IFNAMSIZ + 2];
  if (!need_args(env, argc, 3, "setTcpMd5(socket, peerAddress, key)")) return NULL;
  int fd = socket_fd(env, argv[0], "setTcpMd5");
  if (fd < 0 || !arg_str(env, argv[1], peer, sizeof peer - 1, "peerAddress")) return NULL;
  void* key = NULL;
  size_t keylen = 0;
  napi_valuetype kt = type_of(env, argv[2]);
  if (kt != napi_null && !arg_buffer(env, argv[2], &key, &keylen)) {
    throw_type(env, "setTcpMd5: key must be a Buffer, or null to remove the key");
    return NULL;
  }
  if (keylen > TCP_MD5SIG_MAXKEYLEN) {
    throw_range(env, "setTcpMd5: key must be at most 80 bytes (TCP_MD5SIG_MAXKEYLEN)");
    return NULL;
  }
  int fam = fd_family_or_throw(env, fd, "setTcpMd5 getsockname");
  if (fam < 0) return NULL;
  const char* call = "setTcpMd5";
  int e = set_md5(fd, fam, peer, key, keylen, &call);
  if (e) {
    throw_errno(env, call, e);
    return NULL;
  }
  return undefined(env);
}

static napi_value js_set_ttl_common(napi_env env, napi_callback_info info, int min) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t ttl;
  if (!need_args(env, argc, 2, min ? "setMinTtl(socket, ttl)" : "setTtl(socket, ttl)")) return NULL;
  int fd = socket_fd(env, argv[0], min ? "setMinTtl" : "setTtl");
  if (fd < 0 || !arg_int(env, argv[1], min ? 0 : 1, 255, &ttl, "ttl")) return NULL;
  int fam = fd_family_or_throw(env, fd, min ? "setMinTtl getsockname" : "setTtl getsockname");
  if (fam < 0) return NULL;
  const char* call = "";
  int e = min ? set_minttl(fd, fam, ttl, &call) : set_ttl(fd, fam, ttl, &call);
  if (e) {
    throw_errno(env, call, e);
    return NULL;
  }
  return undefined(env);
}
static napi_value js_set_ttl(napi_env env, napi_callback_info info) { return js_set_ttl_common(env, info, 0); }
static napi_value js_set_min_ttl(napi_env env, napi_callback_info info) { return js_set_ttl_common(env, info, 1); }

// setBindDevice(socket, name | "")
static napi_value js_set_bind_device(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char dev[IFNAMSIZ];
  if (!need_args(env, argc, 2, "setBindDevice(socket, device)")) return NULL;
  int fd = socket_fd(env, argv[0], "setBindDevice");
  if (fd < 0 || !arg_ifname(env, argv[1], dev, 1, "device")) return NULL;
  const char* call = "";
  int e = set_device(fd, dev, &call);
  if (e) {
    char m[96];
    snprintf(m, sizeof m, "setBindDevice %s", call);
    throw_errno(env, m, e);
    return NULL;
  }
  return undefined(env);
}

// ---------------------------------------------------------------------------------------------
// TCP

#define ADDR_MAX (INET6_ADDRSTRLEN + IFNAMSIZ)

typedef struct {
  int family;
  char address[ADDR_MAX + 1];
  int32_t port;
  char local_address[ADDR_MAX + 1];
  int has_local_address;
  int32_t local_port;
  int32_t ttl, min_ttl;
  int has_ttl, has_min_ttl;
  char device[IFNAMSIZ];
  int has_device;
  void* md5_key;
  size_t md5_keylen;
  char md5_peer[ADDR_MAX + 1];
  int has_md5;
  int32_t backlog;
  bool reuse_addr;
} sockopts_t;

// Reads { family: 4|6, address?, port?, localAddress?, localPort?, ttl?, minTtl?, device?,
//         md5?: { peer, key: Buffer } , backlog?, reuseAddr? }
static int read_opts(napi_env env, napi_value o, sockopts_t* s, int need_remote) {
  memset(s, 0, sizeof *s);
  if (!want_type(env, o, napi_object, "options", "an object")) return 0;
  int32_t fam = 0;
  int r;
  if ((r = opt_int(env, o, "family", 4, 6, &fam)) < 0) return 0;
  if (r == 0 || (fam != 4 && fam != 6)) {
    if (r == 0) throw_type(env, "options.family must be 4 or 6, got nothing");
    else throw_range(env, "options.family must be 4 or 6");
    return 0;
  }
  s->family = fam == 4 ? AF_INET : AF_INET6;
  if ((r = opt_str(env, o, "address", s->address, ADDR_MAX)) < 0) return 0;
  if (need_remote && r == 0) {
    throw_type(env, "options.address (the peer address) is required");
    return 0;
  }
  if ((r = opt_int(env, o, "port", need_remote ? 1 : 0, 65535, &s->port)) < 0) return 0;
  if (need_remote && r == 0) {
    throw_type(env, "options.port (the peer port) is required");
    return 0;
  }
  if ((r = opt_str(env, o, "localAddress", s->local_address, ADDR_MAX)) < 0) return 0;
  s->has_local_address = r;
  if (opt_int(env, o, "localPort", 0, 65535, &s->local_port) < 0) return 0;
  if ((r = opt_int(env, o, "ttl", 1, 255, &s->ttl)) < 0) return 0;
  s->has_ttl = r;
  if ((r = opt_int(env, o, "minTtl", 0, 255, &s->min_ttl)) < 0) return 0;
  s->has_min_ttl = r;
  napi_value dv;
  if ((r = opt_present(env, o, "device", &dv)) < 0) return 0;
  if (r == 1 && !arg_ifname(env, dv, s->device, 0, "options.device")) return 0;
  s->has_device = r;
  s->backlog = 128;
  if (opt_int(env, o, "backlog", 0, 65535, &s->backlog) < 0) return 0;
  if (opt_bool(env, o, "reuseAddr", &s->reuse_addr) < 0) return 0;
  napi_value md5;
  if ((r = opt_present(env, o, "md5", &md5)) < 0) return 0;
  if (r == 1) {
    if (!want_type(env, md5, napi_object, "options.md5", "an object { peer, key }")) return 0;
    napi_value key;
    if ((r = opt_str(env, md5, "peer", s->md5_peer, ADDR_MAX)) != 1) {
      if (r == 0) throw_type(env, "options.md5.peer must be the peer address");
      return 0;
    }
    napi_get_named_property(env, md5, "key", &key);
    if (!arg_buffer(env, key, &s->md5_key, &s->md5_keylen)) {
      throw_type(env, "options.md5.key must be a Buffer");
      return 0;
    }
    if (s->md5_keylen > TCP_MD5SIG_MAXKEYLEN) {
      throw_range(env, "options.md5.key must be at most 80 bytes (TCP_MD5SIG_MAXKEYLEN)");
      return 0;
    }
    s->has_md5 = 1;
  }
  return 1;
}

// Creates a socket with every option applied and bound locally if asked. Returns fd or -1 (thrown).
static int make_socket(napi_env env, sockopts_t* s, int type, const char* what) {
  char call[128];
  int fd = socket(s->family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(call, sizeof call, "%s socket", what);
    throw_errno(env, call, errno);
    return -1;
  }
  int one = 1;
  const char* c = NULL;
  int e = 0;
  if (s->family == AF_INET6) (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (s->reuse_addr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    e = errno;
    c = "setsockopt(SO_REUSEADDR)";
  }
  if (!e && s->has_device) e = set_device(fd, s->device, &c);
  if (!e && s->has_ttl) e = set_ttl(fd, s->family, s->ttl, &c);
  if (!e && s->has_min_ttl) e = set_minttl(fd, s->family, s->min_ttl, &c);
  if (!e && s->has_md5) e = set_md5(fd, s->family, s->md5_peer, s->md5_key, s->md5_keylen, &c);
  if (!e && (s->has_local_address || s->local_port)) {
    struct sockaddr_storage ss;
    socklen_t l = parse_addr(s->family, s->has_local_address ? s->local_address : (s->family == AF_INET ? "0.0.0.0" : "::"),
                             s->local_port, &ss);
    if (!l) {
      e = EINVAL;
      c = "bind (localAddress does not parse for this family)";
    } else if (bind(fd, (struct sockaddr*)&ss, l) != 0) {
      e = errno;
      c = "bind";
    }
  }
  if (e) {
    close(fd);
    snprintf(call, sizeof call, "%s %s", what, c);
    throw_errno(env, call, e);
    return -1;
  }
  return fd;
}

static void on_connect(uv_poll_t* p, int status, int events) {
  handle_t* h = p->data;
  if (h->closed) return;
  int err = 0;
  socklen_t l = sizeof err;
  // libuv reports POLLERR as UV_EBADF; the socket's own error is the real cause.
  if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0) err = errno;
  if (!err && status < 0) err = -status;
  napi_env env = h->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value argv[2];
  if (!err) {
    argv[1] = ref_new(env, h->fd, "tcpConnect fstat");
    if (!argv[1]) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      err = EIO;
    }
  }
  if (err) {
    argv[0] = make_errno_error(env, "tcpConnect connect", err);
    napi_get_undefined(env, &argv[1]);
  } else {
    napi_get_null(env, &argv[0]);
    h->fd = -1;  // ownership passes to JavaScript, which wraps the fd in a net.Socket
  }
  uv_poll_stop(&h->poll);
  call_js(h, 2, argv);
  handle_close(h);
  napi_close_handle_scope(env, scope);
}

// tcpConnect(options, cb(err, socketRef)) -> handle (close() cancels a pending connect and its fd)
static napi_value js_tcp_connect(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!need_args(env, argc, 2, "tcpConnect(options, callback)")) return NULL;
  sockopts_t s;
  if (!read_opts(env, argv[0], &s, 1) || !want_type(env, argv[1], napi_function, "callback", "a function")) return NULL;
  struct sockaddr_storage ss;
  socklen_t l = parse_addr(s.family, s.address, s.port, &ss);
  if (!l) {
    throw_type(env, "tcpConnect: options.address does not parse for options.family");
    return NULL;
  }
  int fd = make_socket(env, &s, SOCK_STREAM, "tcpConnect");
  if (fd < 0) return NULL;
  if (connect(fd, (struct sockaddr*)&ss, l) != 0 && errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    throw_errno(env, "tcpConnect connect", e);
    return NULL;
  }
  return handle_open(env, K_CONNECT, fd, s.family, argv[1], NULL, "ironlb.TcpConnect", UV_WRITABLE, on_connect);
}

// tcpListen(options) -> socket reference (listening, non-blocking). JS: server.listen({ fd }).
static napi_value js_tcp_listen(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!need_args(env, argc, 1, "tcpListen(options)")) return NULL;
  sockopts_t s;
  if (!read_opts(env, argv[0], &s, 0)) return NULL;
  s.reuse_addr = 1;  // a restarted speaker must rebind its BGP port at once
  if (!s.has_local_address && s.address[0]) {
    snprintf(s.local_address, sizeof s.local_address, "%s", s.address);
    s.has_local_address = 1;
  }
  if (!s.local_port) s.local_port = s.port;
  int fd = make_socket(env, &s, SOCK_STREAM, "tcpListen");
  if (fd < 0) return NULL;
  if (listen(fd, s.backlog) != 0) {
    int e = errno;
    close(fd);
    throw_errno(env, "tcpListen listen", e);
    return NULL;
  }
  napi_value ref = ref_new(env, fd, "tcpListen fstat");
  if (!ref) close(fd);
  return ref;
}

// localAddress(socket) -> { family, address, port } of the local end
static napi_value js_local_address(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], o;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!need_args(env, argc, 1, "localAddress(socket)")) return NULL;
  int fd = socket_fd(env, argv[0], "localAddress");
  if (fd < 0) return NULL;
  struct sockaddr_storage ss;
  socklen_t l = sizeof ss;
  if (getsockname(fd, (struct sockaddr*)&ss, &l) != 0) {
    throw_errno(env, "localAddress getsockname", errno);
    return NULL;
  }
  char buf[INET6_ADDRSTRLEN];
  int port = 0;
  if (ss.ss_family == AF_INET) {
    struct sockaddr_in* a = (struct sockaddr_in*)&ss;
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6* a = (struct sockaddr_in6*)&ss;
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    port = ntohs(a->sin6_port);
  } else {
    throw_errno(env, "localAddress (not an IP socket)", EAFNOSUPPORT);
    return NULL;
  }
  napi_create_object(env, &o);
  set_u32(env, o, "family", ss.ss_family == AF_INET ? 4 : 6);
  set_str(env, o, "address", buf);
  set_u32(env, o, "port", (uint32_t)port);
  return o;
}

// getTtl(socket, min?) -> the unicast TTL / hop limit in effect (for tests and diagnostics)
static napi_value js_get_ttl(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], r;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!need_args(env, argc, 1, "getTtl(socket, min?)")) return NULL;
  int fd = socket_fd(env, argv[0], "getTtl");
  if (fd < 0) return NULL;
  bool min = false;
  if (argc >= 2 && type_of(env, argv[1]) != napi_undefined && !arg_bool(env, argv[1], &min, "min")) return NULL;
  int fam = fd_family_or_throw(env, fd, "getTtl getsockname");
  if (fam < 0) return NULL;
  int v = 0;
  socklen_t l = sizeof v;
  int rc = fam == AF_INET6 ? getsockopt(fd, IPPROTO_IPV6, min ? IPV6_MINHOPCOUNT : IPV6_UNICAST_HOPS, &v, &l)
                           : getsockopt(fd, IPPROTO_IP, min ? IP_MINTTL : IP_TTL, &v, &l);
  if (rc != 0) {
    throw_errno(env, "getTtl getsockopt", errno);
    return NULL;
  }
  napi_create_int32(env, v, &r);
  return r;
}

// ---------------------------------------------------------------------------------------------
// UDP with received TTL

static void on_udp(uv_poll_t* p, int status, int events) {
  handle_t* h = p->data;
  if (h->closed) return;
  if (status < 0) {
    // An ICMP error queued on the socket (POLLERR): clear it and keep receiving.
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err && !uv_is_active((uv_handle_t*)&h->poll)) uv_poll_start(&h->poll, UV_READABLE, on_udp);
    return;
  }
  napi_env env = h->env;
  for (int i = 0; i < MAX_READS_PER_EVENT && !h->closed; i++) {
    struct sockaddr_storage from;
    char cbuf[256];
    struct iovec iov = {.iov_base = recv_buf, .iov_len = sizeof recv_buf};
    struct msghdr mh = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    ssize_t n = recvmsg(h->fd, &mh, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      continue;  // an ICMP error reported on this read (ECONNREFUSED ...): the next datagram may follow
    }
    int ttl = -1;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) || (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) &&
          c->cmsg_len >= CMSG_LEN(sizeof ttl))
        memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
    }
    char addr[INET6_ADDRSTRLEN] = "";
    int port = 0;
    if (from.ss_family == AF_INET) {
      struct sockaddr_in* a = (struct sockaddr_in*)&from;
      inet_ntop(AF_INET, &a->sin_addr, addr, sizeof addr);
      port = ntohs(a->sin_port);
    } else if (from.ss_family == AF_INET6) {
      struct sockaddr_in6* a = (struct sockaddr_in6*)&from;
      inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof addr);
      port = ntohs(a->sin6_port);
    }
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    napi_value argv[4];
    napi_create_buffer_copy(env, (size_t)n, recv_buf, NULL, &argv[0]);
    napi_create_string_utf8(env, addr, NAPI_AUTO_LENGTH, &argv[1]);
    napi_create_int32(env, port, &argv[2]);
    napi_create_int32(env, ttl, &argv[3]);
    int ok = call_js(h, 4, argv);
    napi_close_handle_scope(env, scope);
    if (!ok) break;
  }
}

// udpOpen(options, onMessage(payload, address, port, ttl)) -> handle
static napi_value js_udp_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!need_args(env, argc, 2, "udpOpen(options, onMessage)")) return NULL;
  sockopts_t s;
  if (!read_opts(env, argv[0], &s, 0) || !want_type(env, argv[1], napi_function, "onMessage", "a function")) return NULL;
  if (!s.has_local_address && s.address[0]) {
    snprintf(s.local_address, sizeof s.local_address, "%s", s.address);
    s.has_local_address = 1;
  }
  if (!s.local_port) s.local_port = s.port;
  int fd = make_socket(env, &s, SOCK_DGRAM, "udpOpen");
  if (fd < 0) return NULL;
  int one = 1;
  int rc = s.family == AF_INET ? setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &one, sizeof one)
                               : setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one);
  if (rc != 0) {
    int e = errno;
    close(fd);
    throw_errno(env, s.family == AF_INET ? "udpOpen setsockopt(IP_RECVTTL)" : "udpOpen setsockopt(IPV6_RECVHOPLIMIT)", e);
    return NULL;
  }
  if (!s.has_local_address && !s.local_port) {
    // bind an ephemeral port so the socket can receive replies
    struct sockaddr_storage ss;
    socklen_t l = parse_addr(s.family, s.family == AF_INET ? "0.0.0.0" : "::", 0, &ss);
    if (bind(fd, (struct sockaddr*)&ss, l) != 0) {
      int e = errno;
      close(fd);
      throw_errno(env, "udpOpen bind", e);
      return NULL;
    }
  }
  return handle_open(env, K_UDP, fd, s.family, argv[1], NULL, "ironlb.UdpSocket", UV_READABLE, on_udp);
}

// udpSend(handle, payload, address, port) -> bytes sent
static napi_value js_udp_send(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], r;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!need_args(env, argc, 4, "udpSend(handle, payload, address, port)")) return NULL;
  handle_t* h = get_open_handle(env, argv[0], K_UDP, "udpSend");
  if (!h) return NULL;
  void* data;
  size_t len;
  if (!arg_buffer(env, argv[1], &data, &len)) {
    throw_type(env, "udpSend: payload must be a Buffer");
    return NULL;
  }
  char addr[ADDR_MAX + 1];
  int32_t port;
  if (!arg_str(env, argv[2], addr, ADDR_MAX, "address") || !arg_int(env, argv[3], 1, 65535, &port, "port")) return NULL;
  struct sockaddr_storage ss;
  socklen_t l = parse_addr(h->family, addr, port, &ss);
  if (!l) {
    throw_type(env, "udpSend: address does not parse for the socket's family");
    return NULL;
  }
  ssize_t n = sendto(h->fd, data, len, MSG_DONTWAIT, (struct sockaddr*)&ss, l);
  if (n < 0) {
    throw_errno(env, "udpSend sendto", errno);
    return NULL;
  }
  napi_create_int32(env, (int32_t)n, &r);
  return r;
}

// ---------------------------------------------------------------------------------------------

#define FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL}

// ironlb_sched.c
napi_value ironlb_js_set_thread_realtime(napi_env env, napi_callback_info info);
napi_value ironlb_js_thread_scheduling(napi_env env, napi_callback_info info);
// ironlb_watch.c
napi_value ironlb_js_watch_open(napi_env env, napi_callback_info info);
napi_value ironlb_js_watch_info(napi_env env, napi_callback_info info);
napi_value ironlb_js_watch_set_keys(napi_env env, napi_callback_info info);
napi_value ironlb_js_watch_set_targets(napi_env env, napi_callback_info info);
napi_value ironlb_js_watch_drain(napi_env env, napi_callback_info info);
napi_value ironlb_js_watch_stats(napi_env env, napi_callback_info info);
napi_value ironlb_js_watch_close(napi_env env, napi_callback_info info);

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      FN("close", js_close),
      FN("setRef", js_set_ref),
      FN("handleFd", js_fd),
      FN("socketRef", js_socket_ref),
      FN("packetOpen", js_packet_open),
      FN("packetSend", js_packet_send),
      FN("packetMembership", js_packet_membership),
      FN("packetSetFilter", js_packet_filter),
      FN("packetSetReceiveBuffer", js_packet_rcvbuf),
      FN("packetStats", js_packet_stats),
      FN("packetResponderOpen", js_packet_responder_open),
      FN("packetAnswer", js_packet_answer),
      FN("packetResponderStats", js_packet_responder_stats),
      FN("answerFrame", js_answer_frame),
      FN("packetProbe", js_packet_probe),
      FN("interfaces", js_interfaces),
      FN("parseLinkMessages", js_parse_link_messages),
      FN("linkWatch", js_link_watch),
      FN("setTcpMd5", js_set_tcp_md5),
      FN("setTtl", js_set_ttl),
      FN("setMinTtl", js_set_min_ttl),
      FN("getTtl", js_get_ttl),
      FN("setBindDevice", js_set_bind_device),
      FN("localAddress", js_local_address),
      FN("tcpConnect", js_tcp_connect),
      FN("tcpListen", js_tcp_listen),
      FN("udpOpen", js_udp_open),
      FN("udpSend", js_udp_send),
      FN("setThreadRealtime", ironlb_js_set_thread_realtime),
      FN("threadScheduling", ironlb_js_thread_scheduling),
      FN("watchOpen", ironlb_js_watch_open),
      FN("watchInfo", ironlb_js_watch_info),
      FN("watchSetKeys", ironlb_js_watch_set_keys),
      FN("watchSetTargets", ironlb_js_watch_set_targets),
      FN("watchDrain", ironlb_js_watch_drain),
      FN("watchStats", ironlb_js_watch_stats),
      FN("watchClose", ironlb_js_watch_close),
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
