// The owner watch's heartbeat wire, on a native thread (src/watch/ decides; this only sends and
// receives).
//
// Why a native thread: a heartbeat sender that is not run for the detection time (160 ms) looks
// dead. With the JavaScript worker at SCHED_FIFO the senders still stopped for ~1 s under load
// (docs/performance.md): a V8 isolate waits on threads it does not own (GC helpers, allocator
// locks held by the nice 10 main thread), and real-time priority does not lend itself to them. This
// thread runs no JavaScript and takes no lock but its own (priority-inheriting): at SCHED_FIFO it
// sends when due whatever the rest of the process does.
//
// The thread, every interval: sends one heartbeat to each target the JS side set (wire format of
// src/watch/codec.ts, HMAC-SHA256 with the first key, OpenSSL as linked into Node). Between ticks:
// reads the socket, keeps only datagrams whose MAC verifies with one of the keys, and queues them
// with their receipt time (bounded ring, oldest dropped). The JS worker drains the queue and decides
// (replay, addresses, silence); receipt times are the thread's, so a late JS worker sees no silence
// that was not there.
//
// watchOpen({family, address, port, self, intervalMs, realtimePriority, nice}) -> handle
// watchInfo(h) -> {port, scheduling: "realtime"|"nice"|"inherited", errors: string[]}
// watchSetKeys(h, keys: Buffer[])      (derived heartbeat keys, 32 bytes; the first signs)
// watchSetTargets(h, [{to, address, port, flags, takeovers}])
// watchDrain(h) -> [{packet: Buffer, address: string, receivedAt: ms}]
// watchStats(h) -> {sent, sendErrors, verified, rejectedMac, dropped, ticks, lateTicks, maxLateMs}
// watchClose(h)
#define _GNU_SOURCE
#include <node_api.h>
#include "ironlb_native.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define W_MAX_KEYS 8
#define W_KEY 32
#define W_MAC 32
#define W_MAX_TARGETS 64
#define W_NAME 255
#define W_FIXED 28
#define W_MAX_PKT (W_FIXED + 2 + 2 * W_NAME + W_MAC)
#define W_RING 2048
#define W_READS_PER_WAKE 256

typedef struct {
  uint8_t to[W_NAME];
  uint8_t to_len;
  struct sockaddr_storage addr;
  socklen_t addr_len;
  uint8_t flags;
  uint16_t takeovers;
} w_target;

typedef struct {
  uint8_t data[W_MAX_PKT];
  uint16_t len;
  double received_at;
  char addr[INET6_ADDRSTRLEN];
} w_entry;

typedef struct {
  int fd, wake_fd, family, stopped;
  pthread_t thread;
  int thread_started;
  pthread_mutex_t mu;  // PTHREAD_PRIO_INHERIT: the JS worker holding it must not hold up this thread
  uint8_t self[W_NAME];
  uint8_t self_len;
  int interval_ms;
  uint64_t epoch;
  uint32_t seq;
  uint8_t keys[W_MAX_KEYS][W_KEY];
  int nkeys;
  w_target targets[W_MAX_TARGETS];
  int ntargets;
  w_entry* ring;
  int head, count;
  int port;
  const char* scheduling;
  char errors[2][160];
  int nerrors;
  int want_nice, nice;
  int prio_done;  // set by the thread once its own priority step ran (watchInfo waits for it)
  double sent, send_errors, verified, rejected_mac, dropped, ticks, late_ticks, max_late_ms;
} w_state;

static double w_realtime_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (double)t.tv_sec * 1e3 + (double)(t.tv_nsec / 1000000);
}

static double w_mono_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void w_put64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

static void w_send_all(w_state* w, double late) {
  uint8_t pkt[W_MAX_PKT];
  double now = w_realtime_ms();
  pthread_mutex_lock(&w->mu);
  w->ticks++;
  if (late > w->interval_ms) w->late_ticks++;
  if (late > w->max_late_ms) w->max_late_ms = late;
  if (w->nkeys > 0) {
    for (int i = 0; i < w->ntargets; i++) {
      w_target* t = &w->targets[i];
      memcpy(pkt, "ILBW", 4);
      pkt[4] = 1;
      pkt[5] = t->flags;
      pkt[6] = (uint8_t)(t->takeovers >> 8);
      pkt[7] = (uint8_t)t->takeovers;
      w_put64(pkt + 8, w->epoch);
      uint32_t seq = ++w->seq;
      pkt[16] = (uint8_t)(seq >> 24), pkt[17] = (uint8_t)(seq >> 16), pkt[18] = (uint8_t)(seq >> 8), pkt[19] = (uint8_t)seq;
      w_put64(pkt + 20, (uint64_t)now);
      size_t off = W_FIXED;
      pkt[off++] = w->self_len;
      memcpy(pkt + off, w->self, w->self_len);
      off += w->self_len;
      pkt[off++] = t->to_len;
      memcpy(pkt + off, t->to, t->to_len);
      off += t->to_len;
      unsigned int mac_len = 0;
      if (!HMAC(EVP_sha256(), w->keys[0], W_KEY, pkt, off, pkt + off, &mac_len) || mac_len != W_MAC) {
        w->send_errors++;
        continue;
      }
      // Errors (no route while a link is down) only make this peer go silent, as they should.
      if (sendto(w->fd, pkt, off + W_MAC, MSG_DONTWAIT, (struct sockaddr*)&t->addr, t->addr_len) < 0) w->send_errors++;
      else w->sent++;
    }
  }
  pthread_mutex_unlock(&w->mu);
}

static int w_verify(w_state* w, const uint8_t* p, size_t n) {
  if (n < W_FIXED + 2 + W_MAC || memcmp(p, "ILBW", 4) != 0 || p[4] != 1) return 0;
  uint8_t mac[EVP_MAX_MD_SIZE];
  for (int k = 0; k < w->nkeys; k++) {
    unsigned int l = 0;
    if (HMAC(EVP_sha256(), w->keys[k], W_KEY, p, n - W_MAC, mac, &l) && l == W_MAC && CRYPTO_memcmp(mac, p + n - W_MAC, W_MAC) == 0) return 1;
  }
  return 0;
}

static void w_read_all(w_state* w) {
  uint8_t buf[W_MAX_PKT + 1];
  for (int i = 0; i < W_READS_PER_WAKE; i++) {
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(w->fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr*)&from, &fl);
    if (n < 0) return;
    double at = w_realtime_ms();
    pthread_mutex_lock(&w->mu);
    if ((size_t)n > W_MAX_PKT || !w_verify(w, buf, (size_t)n)) {
      w->rejected_mac++;
    } else {
      w->verified++;
      if (w->count == W_RING) {
        w->head = (w->head + 1) % W_RING;
        w->count--;
        w->dropped++;
      }
      w_entry* e = &w->ring[(w->head + w->count) % W_RING];
      w->count++;
      memcpy(e->data, buf, (size_t)n);
      e->len = (uint16_t)n;
      e->received_at = at;
      e->addr[0] = 0;
      if (from.ss_family == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in*)&from)->sin_addr, e->addr, sizeof e->addr);
      else if (from.ss_family == AF_INET6) inet_ntop(AF_INET6, &((struct sockaddr_in6*)&from)->sin6_addr, e->addr, sizeof e->addr);
    }
    pthread_mutex_unlock(&w->mu);
  }
}

static void* w_main(void* arg) {
  w_state* w = arg;
  if (w->want_nice) {
    // Not real-time (refused or off): at least a raised nice value for this thread only.
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), w->nice) == 0) w->scheduling = "nice";
    else if (w->nerrors < 2) snprintf(w->errors[w->nerrors++], sizeof w->errors[0], "nice %d: %s", w->nice, strerror(errno));
  }
  __atomic_store_n(&w->prio_done, 1, __ATOMIC_RELEASE);
  double next = w_mono_ms();
  struct pollfd pf[2] = {{.fd = w->fd, .events = POLLIN}, {.fd = w->wake_fd, .events = POLLIN}};
  for (;;) {
    double now = w_mono_ms();
    if (now >= next) {
      w_send_all(w, now - next);
      next += w->interval_ms;
      // After a stall, send once and resume the rhythm instead of a burst of the missed ticks.
      if (next <= now) next = now + w->interval_ms;
    }
    int timeout = (int)(next - w_mono_ms());
    if (timeout < 0) timeout = 0;
    int r = poll(pf, 2, timeout + 1);
    if (r < 0 && errno != EINTR) break;
    if (pf[1].revents) {
      uint64_t v;
      if (read(w->wake_fd, &v, sizeof v) < 0) { /* nothing to do */ }
      if (__atomic_load_n(&w->stopped, __ATOMIC_ACQUIRE)) break;
    }
    if (pf[0].revents & POLLIN) w_read_all(w);
  }
  return NULL;
}

// ---------------------------------------------------------------------------------------------
// JS side


static void w_stop(w_state* w) {
  if (w->thread_started) {
    __atomic_store_n(&w->stopped, 1, __ATOMIC_RELEASE);
    uint64_t one = 1;
    if (write(w->wake_fd, &one, sizeof one) < 0) { /* the thread also sees `stopped` at its next wake */ }
    pthread_join(w->thread, NULL);
    w->thread_started = 0;
  }
  if (w->fd >= 0) close(w->fd), w->fd = -1;
  if (w->wake_fd >= 0) close(w->wake_fd), w->wake_fd = -1;
}

static void w_finalize(napi_env env, void* data, void* hint) {
  w_state* w = data;
  w_stop(w);
  pthread_mutex_destroy(&w->mu);
  free(w->ring);
  free(w);
}

static int w_get_int(napi_env env, napi_value o, const char* k, int32_t* out) {
  napi_value v;
  return napi_get_named_property(env, o, k, &v) == napi_ok && napi_get_value_int32(env, v, out) == napi_ok;
}

static int w_get_str(napi_env env, napi_value o, const char* k, char* buf, size_t cap, size_t* len) {
  napi_value v;
  return napi_get_named_property(env, o, k, &v) == napi_ok && napi_get_value_string_utf8(env, v, buf, cap, len) == napi_ok;
}

static socklen_t w_addr(int family, const char* a, int port, struct sockaddr_storage* ss) {
  memset(ss, 0, sizeof *ss);
  if (family == 6) {
    struct sockaddr_in6* s = (struct sockaddr_in6*)ss;
    s->sin6_family = AF_INET6;
    s->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, a, &s->sin6_addr) != 1) {
      // An IPv4 peer on an IPv6 socket: its mapped form.
      struct in_addr v4;
      if (inet_pton(AF_INET, a, &v4) != 1) return 0;
      s->sin6_addr.s6_addr[10] = s->sin6_addr.s6_addr[11] = 0xff;
      memcpy(&s->sin6_addr.s6_addr[12], &v4, 4);
    }
    return sizeof *s;
  }
  struct sockaddr_in* s = (struct sockaddr_in*)ss;
  s->sin_family = AF_INET;
  s->sin_port = htons((uint16_t)port);
  return inet_pton(AF_INET, a, &s->sin_addr) == 1 ? sizeof *s : 0;
}

/** The handle (first argument) and the second argument if any; NULL with a TypeError thrown. */
static w_state* w_args(napi_env env, napi_callback_info info, napi_value* second) {
  size_t argc = 2;
  napi_value a[2];
  void* p = NULL;
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  if (argc < (second ? 2u : 1u) || napi_get_value_external(env, a[0], &p) != napi_ok || !p) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "owner watch: want a watch handle (and an argument)");
    return NULL;
  }
  if (second) *second = a[1];
  return p;
}

napi_value ironlb_js_watch_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value o;
  napi_get_cb_info(env, info, &argc, &o, NULL, NULL);
  int32_t family = 4, port = 0, interval = 0, rt = 0, nice = 0;
  char address[INET6_ADDRSTRLEN + 1];
  char self[W_NAME + 2];
  size_t al = 0, sl = 0;
  if (argc < 1 || !w_get_int(env, o, "family", &family) || !w_get_int(env, o, "port", &port) || !w_get_int(env, o, "intervalMs", &interval) ||
      !w_get_int(env, o, "realtimePriority", &rt) || !w_get_str(env, o, "address", address, sizeof address, &al) || !w_get_str(env, o, "self", self, sizeof self, &sl)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "watchOpen: want {family, address, port, self, intervalMs, realtimePriority[, nice]}");
    return NULL;
  }
  int want_nice = w_get_int(env, o, "nice", &nice);
  if (sl == 0 || sl > W_NAME || interval < 1 || port < 0 || port > 65535 || rt < 0 || rt > 99) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "watchOpen: self 1..255 bytes, intervalMs >= 1, port 0..65535, realtimePriority 0..99");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t l = w_addr(family, address, port, &ss);
  if (!l) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "watchOpen: address does not parse for the family");
    return NULL;
  }
  w_state* w = calloc(1, sizeof *w);
  w_entry* ring = calloc(W_RING, sizeof *ring);
  if (!w || !ring) {
    free(w), free(ring);
    throw_errno(env, "calloc", ENOMEM);
    return NULL;
  }
  w->ring = ring;
  w->fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w->fd < 0 || w->wake_fd < 0 || bind(w->fd, (struct sockaddr*)&ss, l) != 0) {
    int e = errno;
    w_stop(w);
    free(ring), free(w);
    throw_errno(env, "watchOpen bind", e);
    return NULL;
  }
  struct sockaddr_storage bound;
  socklen_t bl = sizeof bound;
  getsockname(w->fd, (struct sockaddr*)&bound, &bl);
  w->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6*)&bound)->sin6_port : ((struct sockaddr_in*)&bound)->sin_port);
  w->family = family;
  memcpy(w->self, self, sl);
  w->self_len = (uint8_t)sl;
  w->interval_ms = interval;
  w->epoch = (uint64_t)w_realtime_ms();
  w->scheduling = "inherited";
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_setprotocol(&ma, PTHREAD_PRIO_INHERIT);
  pthread_mutex_init(&w->mu, &ma);
  pthread_mutexattr_destroy(&ma);
  int err = EINVAL;
  if (rt > 0) {
    // Real-time from its first instruction (explicit scheduling); refused without CAP_SYS_NICE.
    pthread_attr_t a;
    pthread_attr_init(&a);
    struct sched_param sp = {.sched_priority = rt};
    pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&a, SCHED_FIFO);
    pthread_attr_setschedparam(&a, &sp);
    err = pthread_create(&w->thread, &a, w_main, w);
    pthread_attr_destroy(&a);
    if (err == 0) w->scheduling = "realtime";
    else snprintf(w->errors[w->nerrors++], sizeof w->errors[0], "SCHED_FIFO %d: %s", rt, strerror(err));
  }
  if (err != 0) {
    w->want_nice = want_nice;
    w->nice = nice;
    err = pthread_create(&w->thread, NULL, w_main, w);
  }
  if (err != 0) {
    w_stop(w);
    pthread_mutex_destroy(&w->mu);
    free(ring), free(w);
    throw_errno(env, "pthread_create", err);
    return NULL;
  }
  w->thread_started = 1;
  napi_value h;
  if (napi_create_external(env, w, w_finalize, NULL, &h) != napi_ok) {
    w_finalize(env, w, NULL);
    return NULL;
  }
  return h;
}

napi_value ironlb_js_watch_info(napi_env env, napi_callback_info info) {
  napi_value r, v, arr;
  w_state* w = w_args(env, info, NULL);
  if (!w) return NULL;
  // The thread sets its nice value first thing: wait (bounded) until it has, to report the outcome.
  for (int i = 0; i < 1000 && !__atomic_load_n(&w->prio_done, __ATOMIC_ACQUIRE); i++) usleep(1000);
  napi_create_object(env, &r);
  napi_create_int32(env, w->port, &v);
  napi_set_named_property(env, r, "port", v);
  napi_create_string_utf8(env, w->scheduling, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, r, "scheduling", v);
  napi_create_array_with_length(env, (size_t)w->nerrors, &arr);
  for (int i = 0; i < w->nerrors; i++) {
    napi_create_string_utf8(env, w->errors[i], NAPI_AUTO_LENGTH, &v);
    napi_set_element(env, arr, (uint32_t)i, v);
  }
  napi_set_named_property(env, r, "errors", arr);
  return r;
}

napi_value ironlb_js_watch_set_keys(napi_env env, napi_callback_info info) {
  napi_value list;
  w_state* w = w_args(env, info, &list);
  if (!w) return NULL;
  uint32_t n = 0;
  if (napi_get_array_length(env, list, &n) != napi_ok || n == 0 || n > W_MAX_KEYS) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "watchSetKeys: 1..8 keys");
    return NULL;
  }
  uint8_t keys[W_MAX_KEYS][W_KEY];
  for (uint32_t i = 0; i < n; i++) {
    napi_value k;
    void* d;
    size_t l = 0;
    if (napi_get_element(env, list, i, &k) != napi_ok || napi_get_buffer_info(env, k, &d, &l) != napi_ok || l != W_KEY) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "watchSetKeys: each key a 32-byte Buffer (deriveWatchKey)");
      return NULL;
    }
    memcpy(keys[i], d, W_KEY);
  }
  pthread_mutex_lock(&w->mu);
  memcpy(w->keys, keys, sizeof keys);
  w->nkeys = (int)n;
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

napi_value ironlb_js_watch_set_targets(napi_env env, napi_callback_info info) {
  napi_value list;
  w_state* w = w_args(env, info, &list);
  if (!w) return NULL;
  uint32_t n = 0;
  if (napi_get_array_length(env, list, &n) != napi_ok || n > W_MAX_TARGETS) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "watchSetTargets: at most 64 targets");
    return NULL;
  }
  w_target* ts = calloc(W_MAX_TARGETS, sizeof *ts);
  if (!ts) {
    throw_errno(env, "calloc", ENOMEM);
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value t;
    char to[W_NAME + 2], addr[INET6_ADDRSTRLEN + 1];
    size_t tl = 0, al = 0;
    int32_t port = 0, flags = 0, takeovers = 0;
    if (napi_get_element(env, list, i, &t) != napi_ok || !w_get_str(env, t, "to", to, sizeof to, &tl) || !w_get_str(env, t, "address", addr, sizeof addr, &al) ||
        !w_get_int(env, t, "port", &port) || !w_get_int(env, t, "flags", &flags) || !w_get_int(env, t, "takeovers", &takeovers) || tl == 0 || tl > W_NAME ||
        !(ts[i].addr_len = w_addr(w->family, addr, port, &ts[i].addr))) {
      free(ts);
      napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "watchSetTargets: each target {to (1..255 bytes), address (of the socket's family), port, flags, takeovers}");
      return NULL;
    }
    memcpy(ts[i].to, to, tl);
    ts[i].to_len = (uint8_t)tl;
    ts[i].flags = (uint8_t)flags;
    ts[i].takeovers = (uint16_t)takeovers;
  }
  pthread_mutex_lock(&w->mu);
  memcpy(w->targets, ts, sizeof *ts * n);
  w->ntargets = (int)n;
  pthread_mutex_unlock(&w->mu);
  free(ts);
  return NULL;
}

napi_value ironlb_js_watch_drain(napi_env env, napi_callback_info info) {
  napi_value arr;
  w_state* w = w_args(env, info, NULL);
  if (!w) return NULL;
  // Copy out under the lock, build JS values after it: the lock is held for a memcpy only.
  pthread_mutex_lock(&w->mu);
  int n = w->count;
  w_entry* out = n ? malloc(sizeof *out * (size_t)n) : NULL;
  if (n && !out) n = 0;
  for (int i = 0; i < n; i++) out[i] = w->ring[(w->head + i) % W_RING];
  w->head = (w->head + n) % W_RING;
  w->count -= n;
  pthread_mutex_unlock(&w->mu);
  napi_create_array_with_length(env, (size_t)n, &arr);
  for (int i = 0; i < n; i++) {
    napi_value e, v;
    void* d;
    napi_create_object(env, &e);
    napi_create_buffer_copy(env, out[i].len, out[i].data, &d, &v);
    napi_set_named_property(env, e, "packet", v);
    napi_create_string_utf8(env, out[i].addr, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, e, "address", v);
    napi_create_double(env, out[i].received_at, &v);
    napi_set_named_property(env, e, "receivedAt", v);
    napi_set_element(env, arr, (uint32_t)i, e);
  }
  free(out);
  return arr;
}

napi_value ironlb_js_watch_stats(napi_env env, napi_callback_info info) {
  napi_value r, v;
  w_state* w = w_args(env, info, NULL);
  if (!w) return NULL;
  pthread_mutex_lock(&w->mu);
  double f[] = {w->sent, w->send_errors, w->verified, w->rejected_mac, w->dropped, w->ticks, w->late_ticks, w->max_late_ms};
  pthread_mutex_unlock(&w->mu);
  const char* names[] = {"sent", "sendErrors", "verified", "rejectedMac", "dropped", "ticks", "lateTicks", "maxLateMs"};
  napi_create_object(env, &r);
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    napi_create_double(env, f[i], &v);
    napi_set_named_property(env, r, names[i], v);
  }
  return r;
}

napi_value ironlb_js_watch_close(napi_env env, napi_callback_info info) {
  w_state* w = w_args(env, info, NULL);
  if (w) w_stop(w);
  return NULL;
}
