// UDP sockets that report the received TTL / hop limit (BFD's GTSM check)
#include "ironlb_native.h"

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
napi_value js_udp_open(napi_env env, napi_callback_info info) {
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
napi_value js_udp_send(napi_env env, napi_callback_info info) {
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
