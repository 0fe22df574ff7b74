// handles: polled sockets (packet, udp, netlink watch, pending connect) and socket references
#include "ironlb_native.h"

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

void maybe_free(handle_t* h) {
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
void handle_close(handle_t* h) {
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

handle_t* handle_new(napi_env env, int kind, int fd, int family, napi_value cb, napi_value err_cb, const char* name,
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
napi_value handle_open(napi_env env, int kind, int fd, int family, napi_value cb, napi_value err_cb, const char* name,
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
napi_value ref_new(napi_env env, int fd, const char* call) {
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
handle_t* get_open_handle(napi_env env, napi_value v, int kind, const char* call) {
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
int socket_fd(napi_env env, napi_value v, const char* call) {
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
int arg_buffer(napi_env env, napi_value v, void** data, size_t* len) {
  bool isbuf = false;
  napi_is_buffer(env, v, &isbuf);
  *data = NULL;
  *len = 0;
  if (isbuf) napi_get_buffer_info(env, v, data, len);
  return isbuf;
}

// Calls one of the handle's JS callbacks. Returns 0 if it threw (then surfaced as fatal).
int call_ref(handle_t* h, napi_ref fn, size_t argc, napi_value* argv) {
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

int call_js(handle_t* h, size_t argc, napi_value* argv) { return call_ref(h, h->cb, argc, argv); }

// close(handle): idempotent. A socket reference only forgets the socket (its owner closes it).
napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!need_args(env, argc, 1, "close(handle)")) return NULL;
  handle_t* h = get_handle(env, argv[0], 0, "handle");
  if (h) handle_close(h);
  return h ? undefined(env) : NULL;
}

napi_value js_set_ref(napi_env env, napi_callback_info info) {
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
napi_value js_fd(napi_env env, napi_callback_info info) {
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
napi_value js_socket_ref(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (!need_args(env, argc, 1, "socketRef(fd)") || !arg_int(env, argv[0], 0, INT32_MAX, &fd, "fd")) return NULL;
  return ref_new(env, fd, "socketRef fstat");
}
