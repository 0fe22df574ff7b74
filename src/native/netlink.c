// interface facts (rtnetlink RTM_GETLINK dump): a bounded parser over bytes, then JS objects; and
// the link watcher (rtnetlink multicast) that signals link and address changes
#include "ironlb_native.h"

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

void set_u32(napi_env env, napi_value o, const char* k, uint32_t v) {
  napi_value x;
  napi_create_uint32(env, v, &x);
  napi_set_named_property(env, o, k, x);
}
void set_str(napi_env env, napi_value o, const char* k, const char* v) {
  napi_value x;
  napi_create_string_utf8(env, v, NAPI_AUTO_LENGTH, &x);
  napi_set_named_property(env, o, k, x);
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

napi_value js_interfaces(napi_env env, napi_callback_info info) {
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
napi_value js_parse_link_messages(napi_env env, napi_callback_info info) {
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

napi_value js_link_watch(napi_env env, napi_callback_info info) {
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
