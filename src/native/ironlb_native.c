// ironlb's one native addon: only what Node cannot do by itself.
//  - AF_PACKET raw sockets (ARP/NDP announcer), packet multicast membership, classic BPF filters
//  - interface facts from an rtnetlink dump, and a netlink watcher that signals link/address changes
//  - TCP sockets with options that must be set before the SYN (TCP_MD5SIG, TTL, min TTL, device)
//  - UDP sockets that report the received TTL / hop limit (BFD's GTSM check)
// Reads are driven by libuv uv_poll_t on the main loop; every callback into JS goes through
// napi_make_callback so promises resolved inside it run, and exceptions become fatal exceptions.
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef IPV6_MINHOPCOUNT
#define IPV6_MINHOPCOUNT 73
#endif
#ifndef IP_MINTTL
#define IP_MINTTL 21
#endif

// Bounded work per readiness event: a flood must not starve the rest of the loop.
#define MAX_READS_PER_EVENT 64
#define RECV_BUF_SIZE 65536

static unsigned char recv_buf[RECV_BUF_SIZE];

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

static void throw_type(napi_env env, const char* msg) { napi_throw_type_error(env, "EINVAL", msg); }

// ---------------------------------------------------------------------------------------------
// argument helpers (return 0 and throw on bad input)

static int arg_int(napi_env env, napi_value v, int32_t* out, const char* what) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_number) {
    char m[128];
    snprintf(m, sizeof m, "%s must be a number", what);
    throw_type(env, m);
    return 0;
  }
  napi_get_value_int32(env, v, out);
  return 1;
}

static int arg_str(napi_env env, napi_value v, char* out, size_t cap, const char* what) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_string) {
    char m[128];
    snprintf(m, sizeof m, "%s must be a string", what);
    throw_type(env, m);
    return 0;
  }
  size_t len;
  napi_get_value_string_utf8(env, v, out, cap, &len);
  if (len + 1 >= cap) {
    char m[128];
    snprintf(m, sizeof m, "%s is too long (at most %zu bytes)", what, cap - 2);
    throw_type(env, m);
    return 0;
  }
  return 1;
}

// Optional property: 1 = present and parsed, 0 = absent (undefined/null), -1 = bad (thrown).
static int opt_int(napi_env env, napi_value obj, const char* key, int32_t* out) {
  napi_value v;
  napi_valuetype t;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return -1;
  napi_typeof(env, v, &t);
  if (t == napi_undefined || t == napi_null) return 0;
  return arg_int(env, v, out, key) ? 1 : -1;
}

static int opt_str(napi_env env, napi_value obj, const char* key, char* out, size_t cap) {
  napi_value v;
  napi_valuetype t;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return -1;
  napi_typeof(env, v, &t);
  if (t == napi_undefined || t == napi_null) return 0;
  return arg_str(env, v, out, cap, key) ? 1 : -1;
}

static int opt_bool(napi_env env, napi_value obj, const char* key) {
  napi_value v;
  bool b = false;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return 0;
  if (napi_get_value_bool(env, v, &b) != napi_ok) return 0;
  return b ? 1 : 0;
}

// Parses a textual IPv4/IPv6 address into a sockaddr of the socket's family (IPv4 on an IPv6
// socket becomes v4-mapped). Returns the length, 0 on failure.
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
  char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  snprintf(buf, sizeof buf, "%s", text);
  char* pct = strchr(buf, '%');
  if (pct) {
    *pct = 0;
    s->sin6_scope_id = if_nametoindex(pct + 1);
    if (s->sin6_scope_id == 0) return 0;
  }
  if (inet_pton(AF_INET6, buf, &a6) == 1) {
    s->sin6_addr = a6;
    return sizeof *s;
  }
  if (inet_pton(AF_INET, buf, &a4) == 1) {
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

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// ---------------------------------------------------------------------------------------------
// polled handles (packet, udp, netlink watch, pending connect)

enum { K_PACKET = 1, K_UDP, K_WATCH, K_CONNECT };

typedef struct handle {
  int kind;
  int fd;
  int family;
  uv_poll_t poll;
  int poll_init;
  int closed;
  int poll_closed;
  int finalized;
  napi_env env;
  napi_ref cb;
  napi_ref receiver;
  napi_async_context actx;
} handle_t;

static void maybe_free(handle_t* h) {
  if (h->closed && h->poll_closed && h->finalized) free(h);
}

static void on_poll_closed(uv_handle_t* p) {
  handle_t* h = p->data;
  h->poll_closed = 1;
  maybe_free(h);
}

// Releases the fd at once and stops polling; the uv handle closes on the next loop turn and
// never keeps the loop alive (it is unreferenced first).
static void handle_close(handle_t* h) {
  if (h->closed) return;
  h->closed = 1;
  if (h->poll_init) {
    uv_poll_stop(&h->poll);
    uv_unref((uv_handle_t*)&h->poll);
    uv_close((uv_handle_t*)&h->poll, on_poll_closed);
  } else {
    h->poll_closed = 1;
  }
  if (h->fd >= 0) close(h->fd);
  h->fd = -1;
  if (h->cb) napi_delete_reference(h->env, h->cb);
  if (h->receiver) napi_delete_reference(h->env, h->receiver);
  if (h->actx) napi_async_destroy(h->env, h->actx);
  h->cb = NULL;
  h->receiver = NULL;
  h->actx = NULL;
}

static void handle_finalize(napi_env env, void* data, void* hint) {
  handle_t* h = data;
  handle_close(h);
  h->finalized = 1;
  maybe_free(h);
}

static handle_t* handle_new(napi_env env, int kind, int fd, int family, napi_value cb, const char* name,
                            napi_value* external) {
  handle_t* h = calloc(1, sizeof *h);
  if (!h) {
    close(fd);
    napi_throw_error(env, "ENOMEM", "out of memory allocating a socket handle");
    return NULL;
  }
  h->kind = kind;
  h->fd = fd;
  h->family = family;
  h->env = env;
  napi_value recv, rname;
  napi_create_object(env, &recv);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &rname);
  napi_create_reference(env, recv, 1, &h->receiver);
  napi_create_reference(env, cb, 1, &h->cb);
  napi_async_init(env, recv, rname, &h->actx);
  napi_create_external(env, h, handle_finalize, NULL, external);
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
static napi_value handle_open(napi_env env, int kind, int fd, int family, napi_value cb, const char* name, int events,
                              uv_poll_cb on_ready) {
  napi_value ext;
  handle_t* h = handle_new(env, kind, fd, family, cb, name, &ext);
  if (!h) return NULL;
  if (!handle_start(env, h, events, on_ready)) {
    handle_close(h);
    return NULL;
  }
  return ext;
}

static handle_t* get_handle(napi_env env, napi_value v, int kind) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  void* p = NULL;
  if (t != napi_external || napi_get_value_external(env, v, &p) != napi_ok || !p) {
    throw_type(env, "expected a native socket handle");
    return NULL;
  }
  handle_t* h = p;
  if (kind && h->kind != kind) {
    throw_type(env, "native handle of the wrong kind");
    return NULL;
  }
  return h;
}

// As get_handle, and the handle must not be closed yet; `closed_msg` names the call.
static handle_t* get_open_handle(napi_env env, napi_value v, int kind, const char* closed_msg) {
  handle_t* h = get_handle(env, v, kind);
  if (h && h->closed) {
    throw_errno(env, closed_msg, EBADF);
    return NULL;
  }
  return h;
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

// Calls the handle's JS callback. Returns 0 if the callback threw (then surfaced as fatal).
static int call_js(handle_t* h, size_t argc, napi_value* argv) {
  napi_env env = h->env;
  napi_value cb, recv, result;
  if (!h->cb || !h->receiver) return 0;
  napi_get_reference_value(env, h->cb, &cb);
  napi_get_reference_value(env, h->receiver, &recv);
  napi_status st = napi_make_callback(env, h->actx, recv, cb, argc, argv, &result);
  if (st != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
    return 0;
  }
  return 1;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) return undefined(env);
  handle_t* h = get_handle(env, argv[0], 0);
  if (h) handle_close(h);
  return undefined(env);
}

static napi_value js_set_ref(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) return undefined(env);
  handle_t* h = get_handle(env, argv[0], 0);
  if (!h) return NULL;
  bool ref = false;
  napi_get_value_bool(env, argv[1], &ref);
  if (!h->closed && h->poll_init) {
    if (ref) uv_ref((uv_handle_t*)&h->poll);
    else uv_unref((uv_handle_t*)&h->poll);
  }
  return undefined(env);
}

static napi_value js_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], r;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) return undefined(env);
  handle_t* h = get_handle(env, argv[0], 0);
  if (!h) return NULL;
  napi_create_int32(env, h->fd, &r);
  return r;
}

// ---------------------------------------------------------------------------------------------
// AF_PACKET

static void on_packet(uv_poll_t* p, int status, int events) {
  handle_t* h = p->data;
  if (h->closed || status < 0) return;
  napi_env env = h->env;
  for (int i = 0; i < MAX_READS_PER_EVENT && !h->closed; i++) {
    struct sockaddr_ll sll;
    socklen_t sl = sizeof sll;
    ssize_t n = recvfrom(h->fd, recv_buf, sizeof recv_buf, 0, (struct sockaddr*)&sll, &sl);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;  // EAGAIN (drained) or a transient error: wait for the next readiness
    }
    // Our own transmissions are looped back to packet sockets; they are not requests.
    if (sll.sll_pkttype == PACKET_OUTGOING) continue;
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    napi_value argv[2];
    napi_create_buffer_copy(env, (size_t)n, recv_buf, NULL, &argv[0]);
    napi_create_uint32(env, sll.sll_pkttype, &argv[1]);
    int ok = call_js(h, 2, argv);
    napi_close_handle_scope(env, scope);
    if (!ok) break;
  }
}

// packetOpen(ifindex, ethertype, onFrame(frame, pkttype)) -> handle
static napi_value js_packet_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t ifindex, proto;
  if (argc < 3 || !arg_int(env, argv[0], &ifindex, "ifindex") || !arg_int(env, argv[1], &proto, "ethertype"))
    return NULL;
  // Protocol 0 at creation and the real one at bind: no frames from other interfaces slip in.
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, "packetOpen socket(AF_PACKET)", errno);
    return NULL;
  }
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons((uint16_t)proto);
  sll.sll_ifindex = ifindex;
  if (bind(fd, (struct sockaddr*)&sll, sizeof sll) != 0) {
    int e = errno;
    close(fd);
    throw_errno(env, "packetOpen bind(AF_PACKET)", e);
    return NULL;
  }
  return handle_open(env, K_PACKET, fd, AF_PACKET, argv[2], "ironlb.PacketSocket", UV_READABLE, on_packet);
}

static napi_value js_packet_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], r;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) return NULL;
  handle_t* h = get_open_handle(env, argv[0], K_PACKET, "packetSend (socket closed)");
  if (!h) return NULL;
  void* data;
  size_t len;
  if (!arg_buffer(env, argv[1], &data, &len)) {
    throw_type(env, "packetSend: frame must be a Buffer");
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
  if (argc < 4) return NULL;
  handle_t* h = get_handle(env, argv[0], K_PACKET);
  int32_t ifindex;
  if (!h || !arg_int(env, argv[1], &ifindex, "ifindex")) return NULL;
  void* data;
  size_t len;
  bool add = false;
  if (!arg_buffer(env, argv[2], &data, &len) || len != 6) {
    throw_type(env, "packetMembership: mac must be a 6-byte Buffer");
    return NULL;
  }
  napi_get_value_bool(env, argv[3], &add);
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
  if (argc < 2) return NULL;
  handle_t* h = get_handle(env, argv[0], K_PACKET);
  if (!h) return NULL;
  void* data;
  size_t len;
  if (!arg_buffer(env, argv[1], &data, &len) || len == 0 || len % sizeof(struct sock_filter) != 0 || len / sizeof(struct sock_filter) > 4096) {
    throw_type(env, "packetSetFilter: program must be a Buffer of 8-byte BPF instructions");
    return NULL;
  }
  struct sock_fprog prog = {.len = (unsigned short)(len / sizeof(struct sock_filter)), .filter = data};
  if (setsockopt(h->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0) {
    throw_errno(env, "packetSetFilter SO_ATTACH_FILTER", errno);
    return NULL;
  }
  return undefined(env);
}

// ---------------------------------------------------------------------------------------------
// interface facts (rtnetlink RTM_GETLINK dump)

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

static void parse_linkinfo(napi_env env, napi_value o, struct rtattr* li) {
  int len = RTA_PAYLOAD(li);
  for (struct rtattr* a = RTA_DATA(li); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type == IFLA_INFO_KIND) set_str(env, o, "kind", (const char*)RTA_DATA(a));
    if (a->rta_type == IFLA_INFO_SLAVE_KIND) set_str(env, o, "slaveKind", (const char*)RTA_DATA(a));
  }
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
  napi_value arr;
  napi_create_array(env, &arr);
  uint32_t count = 0;
  int done = 0;
  // Bounded: a dump is a handful of datagrams; 10000 is far beyond any real host.
  for (int rounds = 0; !done && rounds < 10000; rounds++) {
    ssize_t n = recv(fd, recv_buf, sizeof recv_buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      throw_errno(env, "interfaces recv(RTM_GETLINK)", e);
      return NULL;
    }
    int len = (int)n;
    for (struct nlmsghdr* nh = (struct nlmsghdr*)recv_buf; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
      if (nh->nlmsg_type == NLMSG_DONE) {
        done = 1;
        break;
      }
      if (nh->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr* err = NLMSG_DATA(nh);
        close(fd);
        throw_errno(env, "interfaces RTM_GETLINK", err->error ? -err->error : EIO);
        return NULL;
      }
      if (nh->nlmsg_type != RTM_NEWLINK) continue;
      struct ifinfomsg* ifm = NLMSG_DATA(nh);
      napi_value o;
      napi_create_object(env, &o);
      set_u32(env, o, "index", (uint32_t)ifm->ifi_index);
      set_u32(env, o, "flags", ifm->ifi_flags);
      set_u32(env, o, "type", ifm->ifi_type);
      set_u32(env, o, "master", 0);
      set_str(env, o, "mac", "");
      set_str(env, o, "kind", "");
      set_str(env, o, "slaveKind", "");
      int alen = IFLA_PAYLOAD(nh);
      for (struct rtattr* a = IFLA_RTA(ifm); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
        switch (a->rta_type) {
          case IFLA_IFNAME:
            set_str(env, o, "name", (const char*)RTA_DATA(a));
            break;
          case IFLA_ADDRESS: {
            unsigned char* b = RTA_DATA(a);
            int bl = RTA_PAYLOAD(a);
            if (bl > 32) bl = 32;
            char out[3 * 32 + 1];
            size_t pos = 0;
            for (int i = 0; i < bl; i++) pos += (size_t)snprintf(out + pos, sizeof out - pos, i ? ":%02x" : "%02x", b[i]);
            out[pos] = 0;
            set_str(env, o, "mac", out);
            break;
          }
          case IFLA_MTU:
            set_u32(env, o, "mtu", *(uint32_t*)RTA_DATA(a));
            break;
          case IFLA_MASTER:
            set_u32(env, o, "master", *(uint32_t*)RTA_DATA(a));
            break;
          case IFLA_OPERSTATE:
            set_u32(env, o, "operState", *(uint8_t*)RTA_DATA(a));
            break;
          case IFLA_LINKINFO:
            parse_linkinfo(env, o, a);
            break;
        }
      }
      napi_set_element(env, arr, count++, o);
    }
  }
  close(fd);
  return arr;
}

// linkWatch(onChange()) -> handle: rtnetlink multicast for link and address changes. The
// callback carries no detail; the caller re-reads interface facts (one dump per burst).
static void on_watch(uv_poll_t* p, int status, int events) {
  handle_t* h = p->data;
  if (h->closed) return;
  int any = 0;
  for (int i = 0; i < MAX_READS_PER_EVENT; i++) {
    ssize_t n = recv(h->fd, recv_buf, sizeof recv_buf, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) any = 1;  // overflowed: something changed, re-read
      break;
    }
    any = 1;
  }
  if (!any) return;
  napi_handle_scope scope;
  napi_open_handle_scope(h->env, &scope);
  call_js(h, 0, NULL);
  napi_close_handle_scope(h->env, scope);
}

static napi_value js_link_watch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) return NULL;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) {
    throw_errno(env, "linkWatch socket(AF_NETLINK)", errno);
    return NULL;
  }
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
  return handle_open(env, K_WATCH, fd, AF_NETLINK, argv[0], "ironlb.LinkWatch", UV_READABLE, on_watch);
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

// setTcpMd5(fd, peerAddress, key Buffer|null)
static napi_value js_set_tcp_md5(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  char peer[INET6_ADDRSTRLEN + 1];
  if (argc < 3 || !arg_int(env, argv[0], &fd, "fd") || !arg_str(env, argv[1], peer, sizeof peer, "peerAddress"))
    return NULL;
  void* key;
  size_t keylen;
  arg_buffer(env, argv[2], &key, &keylen);  // not a Buffer: no key, MD5 off
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
  int32_t fd, ttl;
  if (argc < 2 || !arg_int(env, argv[0], &fd, "fd") || !arg_int(env, argv[1], &ttl, "ttl")) return NULL;
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

// setBindDevice(fd, name | "")
static napi_value js_set_bind_device(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  char dev[IF_NAMESIZE + 2];
  if (argc < 2 || !arg_int(env, argv[0], &fd, "fd") || !arg_str(env, argv[1], dev, sizeof dev, "device")) return NULL;
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

typedef struct {
  int family;
  char address[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  int32_t port;
  char local_address[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  int has_local_address;
  int32_t local_port;
  int32_t ttl, min_ttl;
  int has_ttl, has_min_ttl;
  char device[IF_NAMESIZE + 1];
  int has_device;
  void* md5_key;
  size_t md5_keylen;
  char md5_peer[INET6_ADDRSTRLEN + 1];
  int has_md5;
  int32_t backlog;
  int reuse_addr;
} sockopts_t;

// Reads { family: 4|6, address?, port?, localAddress?, localPort?, ttl?, minTtl?, device?,
//         md5?: { peer, key: Buffer } , backlog?, reuseAddr? }
static int read_opts(napi_env env, napi_value o, sockopts_t* s, int need_remote) {
  memset(s, 0, sizeof *s);
  int32_t fam = 0;
  int r;
  if (opt_int(env, o, "family", &fam) != 1 || (fam != 4 && fam != 6)) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) throw_type(env, "options.family must be 4 or 6");
    return 0;
  }
  s->family = fam == 4 ? AF_INET : AF_INET6;
  if ((r = opt_str(env, o, "address", s->address, sizeof s->address)) < 0) return 0;
  if (need_remote && r == 0) {
    throw_type(env, "options.address (the peer address) is required");
    return 0;
  }
  if ((r = opt_int(env, o, "port", &s->port)) < 0) return 0;
  if (need_remote && r == 0) {
    throw_type(env, "options.port (the peer port) is required");
    return 0;
  }
  if ((r = opt_str(env, o, "localAddress", s->local_address, sizeof s->local_address)) < 0) return 0;
  s->has_local_address = r;
  if (opt_int(env, o, "localPort", &s->local_port) < 0) return 0;
  if ((r = opt_int(env, o, "ttl", &s->ttl)) < 0) return 0;
  s->has_ttl = r;
  if ((r = opt_int(env, o, "minTtl", &s->min_ttl)) < 0) return 0;
  s->has_min_ttl = r;
  if ((r = opt_str(env, o, "device", s->device, sizeof s->device)) < 0) return 0;
  s->has_device = r;
  s->backlog = 128;
  if (opt_int(env, o, "backlog", &s->backlog) < 0) return 0;
  s->reuse_addr = opt_bool(env, o, "reuseAddr");
  napi_value md5;
  napi_valuetype t;
  napi_get_named_property(env, o, "md5", &md5);
  napi_typeof(env, md5, &t);
  if (t == napi_object) {
    napi_value key;
    if (opt_str(env, md5, "peer", s->md5_peer, sizeof s->md5_peer) != 1) {
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (!pending) throw_type(env, "options.md5.peer must be the peer address");
      return 0;
    }
    napi_get_named_property(env, md5, "key", &key);
    if (!arg_buffer(env, key, &s->md5_key, &s->md5_keylen)) {
      throw_type(env, "options.md5.key must be a Buffer");
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
  if (err) {
    argv[0] = make_errno_error(env, "tcpConnect connect", err);
    napi_get_undefined(env, &argv[1]);
  } else {
    napi_get_null(env, &argv[0]);
    napi_create_int32(env, h->fd, &argv[1]);
    h->fd = -1;  // ownership passes to JavaScript
  }
  uv_poll_stop(&h->poll);
  call_js(h, 2, argv);
  handle_close(h);
  napi_close_handle_scope(env, scope);
}

// tcpConnect(options, cb(err, fd)) -> handle (close() cancels a pending connect and its fd)
static napi_value js_tcp_connect(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) {
    throw_type(env, "tcpConnect(options, callback)");
    return NULL;
  }
  sockopts_t s;
  if (!read_opts(env, argv[0], &s, 1)) return NULL;
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
  return handle_open(env, K_CONNECT, fd, s.family, argv[1], "ironlb.TcpConnect", UV_WRITABLE, on_connect);
}

// tcpListen(options) -> fd (listening, non-blocking). JS: server.listen({ fd }).
static napi_value js_tcp_listen(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], r;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) {
    throw_type(env, "tcpListen(options)");
    return NULL;
  }
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
  if (!s.has_local_address && !s.local_port) {
    // not bound yet: listen() binds an ephemeral port on the wildcard address
  }
  if (listen(fd, s.backlog) != 0) {
    int e = errno;
    close(fd);
    throw_errno(env, "tcpListen listen", e);
    return NULL;
  }
  napi_create_int32(env, fd, &r);
  return r;
}

// socketInfo(fd) -> { family, address, port } of the local end
static napi_value js_local_address(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], o;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (argc < 1 || !arg_int(env, argv[0], &fd, "fd")) return NULL;
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

// getTtl(fd) -> the unicast TTL / hop limit in effect (for tests and diagnostics)
static napi_value js_get_ttl(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], r;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (argc < 1 || !arg_int(env, argv[0], &fd, "fd")) return NULL;
  bool min = false;
  if (argc >= 2) napi_get_value_bool(env, argv[1], &min);
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
  if (h->closed || status < 0) return;
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
      break;
    }
    int ttl = -1;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
          (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT))
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
  if (argc < 2) {
    throw_type(env, "udpOpen(options, onMessage)");
    return NULL;
  }
  sockopts_t s;
  if (!read_opts(env, argv[0], &s, 0)) return NULL;
  if (!s.has_local_address && s.address[0]) {
    snprintf(s.local_address, sizeof s.local_address, "%s", s.address);
    s.has_local_address = 1;
  }
  if (!s.local_port) s.local_port = s.port;
  if (!s.has_local_address && !s.local_port) s.has_local_address = 0;
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
  return handle_open(env, K_UDP, fd, s.family, argv[1], "ironlb.UdpSocket", UV_READABLE, on_udp);
}

// udpSend(handle, payload, address, port) -> bytes sent
static napi_value js_udp_send(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], r;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) return NULL;
  handle_t* h = get_open_handle(env, argv[0], K_UDP, "udpSend (socket closed)");
  if (!h) return NULL;
  void* data;
  size_t len;
  if (!arg_buffer(env, argv[1], &data, &len)) {
    throw_type(env, "udpSend: payload must be a Buffer");
    return NULL;
  }
  char addr[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  int32_t port;
  if (!arg_str(env, argv[2], addr, sizeof addr, "address") || !arg_int(env, argv[3], &port, "port")) return NULL;
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

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      FN("close", js_close),
      FN("setRef", js_set_ref),
      FN("handleFd", js_fd),
      FN("packetOpen", js_packet_open),
      FN("packetSend", js_packet_send),
      FN("packetMembership", js_packet_membership),
      FN("packetSetFilter", js_packet_filter),
      FN("interfaces", js_interfaces),
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
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
