// socket options shared by TCP and UDP
#include "ironlb_native.h"

int set_md5(int fd, int family, const char* peer, const void* key, size_t keylen, const char** call) {
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

int set_ttl(int fd, int family, int ttl, const char** call) {
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

int set_minttl(int fd, int family, int ttl, const char** call) {
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

int set_device(int fd, const char* dev, const char** call) {
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, (socklen_t)strlen(dev)) != 0) {
    *call = "setsockopt(SO_BINDTODEVICE)";
    return errno;
  }
  return 0;
}

int fd_family_or_throw(napi_env env, int32_t fd, const char* call) {
  int fam = sock_family(fd);
  if (fam < 0) throw_errno(env, call, errno);
  else if (fam != AF_INET && fam != AF_INET6) {
    throw_errno(env, call, EAFNOSUPPORT);
    return -1;
  }
  return fam;
}

// setTcpMd5(socket, peerAddress, key Buffer|null)
napi_value js_set_tcp_md5(napi_env env, napi_callback_info info) {
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
napi_value js_set_ttl(napi_env env, napi_callback_info info) { return js_set_ttl_common(env, info, 0); }
napi_value js_set_min_ttl(napi_env env, napi_callback_info info) { return js_set_ttl_common(env, info, 1); }

// setBindDevice(socket, name | "")
napi_value js_set_bind_device(napi_env env, napi_callback_info info) {
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
