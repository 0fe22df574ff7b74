// AF_PACKET raw sockets: open, send, multicast membership, BPF filter, receive buffer, drop
// counters (PACKET_STATISTICS); frames are read in batches of PACKET_BATCH slots.
#include "ironlb_native.h"

static unsigned char packet_slots[PACKET_BATCH][PACKET_SLOT];

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
int packet_socket(napi_env env, int ifindex, int proto, const char* call) {
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
napi_value js_packet_open(napi_env env, napi_callback_info info) {
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

napi_value js_packet_send(napi_env env, napi_callback_info info) {
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
napi_value js_packet_membership(napi_env env, napi_callback_info info) {
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
napi_value js_packet_filter(napi_env env, napi_callback_info info) {
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
napi_value js_packet_rcvbuf(napi_env env, napi_callback_info info) {
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
napi_value js_packet_stats(napi_env env, napi_callback_info info) {
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

napi_value js_packet_probe(napi_env env, napi_callback_info info) {
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
