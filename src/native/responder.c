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
#include "ironlb_native.h"
#include <sched.h>

#define RESP_MAX_ENTRIES 65536
#define RESP_REPLY_MAX 96
#define RESP_MAX_EXT_HEADERS 4  // as MAX_EXTENSION_HEADERS in src/layer2/ndp.ts
#define RESP_STACK (256 * 1024)
// Real-time answering (packetResponderOpen's realtimePriority > 0 and CAP_SYS_NICE): on a loaded node
// a thread at normal priority waits for a CPU behind every runnable thread before it answers (ARP
// p50 143 µs at load 28 against 20-24 µs at load 15-23, docs/performance.md); at SCHED_FIFO it runs
// when the request arrives. A real-time thread must not be made to spin by a flood: past
// RESP_FLOOD_FRAMES frames within one RESP_FLOOD_WINDOW_NS window it returns to SCHED_OTHER for
// RESP_FLOOD_BACKOFF_NS (counted as a demotion), then real-time again on its next wake-up.
#define RESP_FLOOD_FRAMES 2000
#define RESP_FLOOD_WINDOW_NS 100000000LL   // 100 ms: 20,000 frames/s
#define RESP_FLOOD_BACKOFF_NS 1000000000LL // 1 s

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

// Frames read and left unanswered because they ask nothing of this responder (not a drop: no
// rule refused them), each counted by reason so none passes unseen.
enum {
  IGNORE_NOT_REQUEST,    // an ARP reply, an ICMPv6 message other than a Neighbor Solicitation, MLD ...
  IGNORE_OTHER_HOST,     // addressed at the link layer to another host
  IGNORE_NOT_ANNOUNCED,  // asks for an address this socket does not answer for
  IGNORE_GRATUITOUS,     // someone's gratuitous ARP (sender and target address the same)
  IGNORE_OWN_FRAME,      // our own transmission, looped back to the packet socket
  IGNORE_REASONS
};
static const char* const ignore_names[IGNORE_REASONS] = {"not-request", "other-host", "not-announced", "gratuitous", "own-frame"};

typedef struct {
  uint8_t addr[16];  // IPv4 in the first 4 bytes
  uint8_t mac[6];
} answer_t;

enum { V_IGNORE, V_ANSWER, V_DROP };
typedef struct {
  int action;
  int reason;   // V_DROP: DROP_*; V_IGNORE: IGNORE_*
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

static void ignore(verdict_t* v, int reason) {
  v->action = V_IGNORE;
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
    else ignore(v, IGNORE_NOT_REQUEST);
    return;
  }
  v->request = 1;
  // Broadcast, or unicast to our MAC (a refresh probe); never frames for other hosts.
  if (pkttype != PACKET_BROADCAST && pkttype != PACKET_HOST) { ignore(v, IGNORE_OTHER_HOST); return; }
  const uint8_t *smac = f + o + 8, *sip = f + o + 14, *tip = f + o + 24;
  const answer_t* e = answer_find(t, n, 4, tip);
  if (!e) { ignore(v, IGNORE_NOT_ANNOUNCED); return; }
  if (!memcmp(sip, tip, 4)) { ignore(v, IGNORE_GRATUITOUS); return; }  // someone else's gratuitous ARP
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
    if (next != 0 && next != 43 && next != 60) { ignore(v, IGNORE_NOT_REQUEST); return; }  // another upper layer (an MLD report ...) or a Fragment
    if ((next == 0 && i > 0) || i == RESP_MAX_EXT_HEADERS || end - off < 8) { drop(v, DROP_MALFORMED); return; }
    size_t hl = ((size_t)f[off + 1] + 1) * 8;
    if (hl > end - off) { drop(v, DROP_MALFORMED); return; }
    next = f[off];
    off += hl;
  }
  const uint8_t* m = f + off;
  size_t mlen = end - off;
  if (mlen < 4) { drop(v, DROP_MALFORMED); return; }
  if (m[0] != 135) { ignore(v, IGNORE_NOT_REQUEST); return; }  // not a Neighbor Solicitation
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
  if (pkttype != PACKET_MULTICAST && pkttype != PACKET_HOST) { ignore(v, IGNORE_OTHER_HOST); return; }
  const answer_t* e = answer_find(t, n, 16, target);
  if (!e) { ignore(v, IGNORE_NOT_ANNOUNCED); return; }
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

// The verdict on one received frame: alen 4 = ARP socket, 16 = IPv6 socket. Every frame left
// unanswered gets a reason (DROP_* or IGNORE_*).
static void answer_frame(int alen, const answer_t* t, size_t n, const uint8_t* f, size_t len, int pkttype, verdict_t* v) {
  v->action = V_IGNORE;
  v->reason = IGNORE_NOT_REQUEST;
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
  _Atomic uint64_t frames, requests, replies, send_errors, dropped[DROP_REASONS], ignored[IGNORE_REASONS];
  int rt_priority;                   // 0: the process's scheduling
  _Atomic(const char*) scheduling;   // "realtime" | "demoted" | "inherited" (static strings)
  _Atomic uint64_t demotions;
  unsigned char slots[PACKET_BATCH][PACKET_SLOT];
} responder_t;

static long long mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// The calling (responder) thread to SCHED_FIFO at the responder's priority; 0 when refused.
static int responder_realtime(responder_t* r) {
  struct sched_param p = {.sched_priority = r->rt_priority};
  return sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &p) == 0;
}

static void responder_normal(void) {
  struct sched_param p = {.sched_priority = 0};
  sched_setscheduler(0, SCHED_OTHER, &p);
}

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
      if (sll[k].sll_pkttype == PACKET_OUTGOING) {  // our own transmissions, looped back
        atomic_fetch_add_explicit(&r->ignored[IGNORE_OWN_FRAME], 1, memory_order_relaxed);
        continue;
      }
      if (mm[k].msg_hdr.msg_flags & MSG_TRUNC) {            // longer than a slot: never a request
        atomic_fetch_add_explicit(&r->dropped[DROP_MALFORMED], 1, memory_order_relaxed);
        continue;
      }
      verdict_t v;
      answer_frame(r->alen, r->table, r->n, r->slots[k], mm[k].msg_len, sll[k].sll_pkttype, &v);
      if (v.request) atomic_fetch_add_explicit(&r->requests, 1, memory_order_relaxed);
      if (v.action == V_DROP) {
        atomic_fetch_add_explicit(&r->dropped[v.reason], 1, memory_order_relaxed);
      } else if (v.action == V_IGNORE) {
        atomic_fetch_add_explicit(&r->ignored[v.reason], 1, memory_order_relaxed);
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
  int rt = r->rt_priority > 0 && responder_realtime(r);
  atomic_store(&r->scheduling, rt ? "realtime" : "inherited");
  long long window_start = mono_ns(), demoted_until = 0;
  uint64_t window_frames = atomic_load(&r->frames);
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
    if (r->rt_priority > 0) {
      long long now = mono_ns();
      uint64_t frames = atomic_load_explicit(&r->frames, memory_order_relaxed);
      if (rt && frames - window_frames > RESP_FLOOD_FRAMES) {
        responder_normal();
        rt = 0;
        demoted_until = now + RESP_FLOOD_BACKOFF_NS;
        atomic_fetch_add(&r->demotions, 1);
        atomic_store(&r->scheduling, "demoted");
      } else if (!rt && demoted_until && now >= demoted_until) {
        rt = responder_realtime(r);
        demoted_until = 0;
        atomic_store(&r->scheduling, rt ? "realtime" : "inherited");
      }
      if (now - window_start >= RESP_FLOOD_WINDOW_NS) {
        window_start = now;
        window_frames = frames;
      }
    }
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
void responder_close(handle_t* h) {
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

void responder_free(responder_t* r) {
  if (r->stop_fd >= 0) close(r->stop_fd);
  pthread_mutex_destroy(&r->lock);
  free(r->table);
  free(r);
}

void responder_ref(responder_t* r, int ref) {
  if (!r->async_init) return;
  if (ref) uv_ref((uv_handle_t*)&r->async);
  else uv_unref((uv_handle_t*)&r->async);
}

// packetResponderOpen(ifindex, ethertype (0x0806 ARP | 0x86dd IPv6), onError(err)) -> handle: a
// packet socket that answers ARP requests / Neighbor Solicitations for the addresses installed
// with packetAnswer, from a thread of its own. The other packet calls (send, filter, membership,
// buffer, stats) work on it as on packetOpen's sockets; no frame reaches JavaScript.
napi_value js_packet_responder_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t ifindex, proto, rt_priority = 0;
  if (!need_args(env, argc, 3, "packetResponderOpen(ifindex, ethertype, onError[, realtimePriority])")) return NULL;
  if (!arg_int(env, argv[0], 1, INT32_MAX, &ifindex, "ifindex") || !arg_int(env, argv[1], 0, 0xffff, &proto, "ethertype") ||
      !want_type(env, argv[2], napi_function, "onError", "a function") || (argc >= 4 && !arg_int(env, argv[3], 0, 99, &rt_priority, "realtimePriority")))
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
  r->rt_priority = rt_priority;
  atomic_store(&r->scheduling, "inherited");
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
napi_value js_packet_answer(napi_env env, napi_callback_info info) {
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

// packetResponderStats(handle) -> { addresses, frames, requests, replies, sendErrors, dropped: { reason: n },
// ignored: { reason: n }, scheduling: "realtime" | "demoted" | "inherited", realtimeDemotions }:
// totals since the socket opened.
napi_value js_packet_responder_stats(napi_env env, napi_callback_info info) {
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
  napi_create_object(env, &d);
  for (int k = 0; k < IGNORE_REASONS; k++) set_f64(env, d, ignore_names[k], (double)atomic_load(&r->ignored[k]));
  napi_set_named_property(env, o, "ignored", d);
  napi_create_string_utf8(env, atomic_load(&r->scheduling), NAPI_AUTO_LENGTH, &d);
  napi_set_named_property(env, o, "scheduling", d);
  set_f64(env, o, "realtimeDemotions", (double)atomic_load(&r->demotions));
  return o;
}

// answerFrame(ethertype, frame, pktType, address Buffer | null, mac Buffer | null) ->
// { action: "answer" | "drop" | "ignore", request, reason?, reply? }: the responder's verdict on
// one frame with a table of at most one address, without a socket (tests and fuzzing).
napi_value js_answer_frame(napi_env env, napi_callback_info info) {
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
  if (v.action == V_IGNORE) set_str(env, o, "reason", ignore_names[v.reason]);
  if (v.action == V_ANSWER) {
    napi_create_buffer_copy(env, v.len, v.out, NULL, &x);
    napi_set_named_property(env, o, "reply", x);
  }
  return o;
}
