// TCP sockets with options that must be set before the SYN (MD5 signature, TTL, min TTL, device)
#include "ironlb_native.h"

// Reads { family: 4|6, address?, port?, localAddress?, localPort?, ttl?, minTtl?, device?,
//         md5?: { peer, key: Buffer } , backlog?, reuseAddr? }
int read_opts(napi_env env, napi_value o, sockopts_t* s, int need_remote) {
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
int make_socket(napi_env env, sockopts_t* s, int type, const char* what) {
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
napi_value js_tcp_connect(napi_env env, napi_callback_info info) {
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
napi_value js_tcp_listen(napi_env env, napi_callback_info info) {
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
napi_value js_local_address(napi_env env, napi_callback_info info) {
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
napi_value js_get_ttl(napi_env env, napi_callback_info info) {
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
