// The native addon's shared declarations: one C file per job (errors.c, args.c, handles.c, packet.c,
// netlink.c, responder.c, sockopts.c, tcp.c, udp.c) and ironlb_native.c registering the exports.
// The addon is built with -fvisibility=hidden: these names are the files' shared vocabulary, not
// symbols the process sees (only the N-API module registration is exported).
#ifndef IRONLB_NATIVE_H
#define IRONLB_NATIVE_H
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

// Packet sockets read in batches (recvmmsg): ARP requests and Neighbor Solicitations fit a slot
// (an Ethernet frame of MTU 1500 does; jumbo frames are cut and not passed on).
#define PACKET_BATCH 32
#define PACKET_SLOT 4096

// One receive buffer for the main loop's netlink and UDP reads (defined in ironlb_native.c).
extern unsigned char recv_buf[RECV_BUF_SIZE];

// ---- handles (handles.c)
#define HANDLE_MAGIC 0x494c4248u  // "ILBH": only externals this addon made are accepted

enum { K_PACKET = 1, K_UDP, K_WATCH, K_CONNECT, K_REF };

struct responder;
typedef struct responder responder_t;
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

// ---- socket options read from JavaScript (tcp.c, used by udp.c too)
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

// ---- functions shared between the files, by defining file
// errors.c
void throw_errno(napi_env env, const char* call, int err);
napi_value make_errno_error(napi_env env, const char* call, int err);
void throw_type(napi_env env, const char* msg);
void throw_range(napi_env env, const char* msg);
int pending(napi_env env);
napi_value undefined(napi_env env);
// args.c
const char* type_name(napi_valuetype t);
napi_valuetype type_of(napi_env env, napi_value v);
int need_args(napi_env env, size_t argc, size_t n, const char* sig);
int want_type(napi_env env, napi_value v, napi_valuetype want, const char* what, const char* desc);
int arg_int(napi_env env, napi_value v, int64_t min, int64_t max, int32_t* out, const char* what);
int arg_bool(napi_env env, napi_value v, bool* out, const char* what);
int arg_str(napi_env env, napi_value v, char* out, size_t max, const char* what);
int arg_ifname(napi_env env, napi_value v, char* out, int allow_empty, const char* what);
int opt_present(napi_env env, napi_value obj, const char* key, napi_value* v);
int opt_int(napi_env env, napi_value obj, const char* key, int64_t min, int64_t max, int32_t* out);
int opt_str(napi_env env, napi_value obj, const char* key, char* out, size_t max);
int opt_bool(napi_env env, napi_value obj, const char* key, bool* out);
socklen_t parse_addr(int family, const char* text, int port, struct sockaddr_storage* ss);
int sock_family(int fd);
// handles.c
void maybe_free(handle_t* h);
void handle_close(handle_t* h);
handle_t* handle_new(napi_env env, int kind, int fd, int family, napi_value cb, napi_value err_cb, const char* name, napi_value* external);
napi_value handle_open(napi_env env, int kind, int fd, int family, napi_value cb, napi_value err_cb, const char* name, int events, uv_poll_cb on_ready);
napi_value ref_new(napi_env env, int fd, const char* call);
handle_t* get_open_handle(napi_env env, napi_value v, int kind, const char* call);
int socket_fd(napi_env env, napi_value v, const char* call);
int arg_buffer(napi_env env, napi_value v, void** data, size_t* len);
int call_ref(handle_t* h, napi_ref fn, size_t argc, napi_value* argv);
int call_js(handle_t* h, size_t argc, napi_value* argv);
napi_value js_close(napi_env env, napi_callback_info info);
napi_value js_set_ref(napi_env env, napi_callback_info info);
napi_value js_fd(napi_env env, napi_callback_info info);
napi_value js_socket_ref(napi_env env, napi_callback_info info);
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
// packet.c
int packet_socket(napi_env env, int ifindex, int proto, const char* call);
napi_value js_packet_open(napi_env env, napi_callback_info info);
napi_value js_packet_send(napi_env env, napi_callback_info info);
napi_value js_packet_membership(napi_env env, napi_callback_info info);
napi_value js_packet_filter(napi_env env, napi_callback_info info);
napi_value js_packet_rcvbuf(napi_env env, napi_callback_info info);
napi_value js_packet_stats(napi_env env, napi_callback_info info);
napi_value js_packet_probe(napi_env env, napi_callback_info info);
// netlink.c
void set_u32(napi_env env, napi_value o, const char* k, uint32_t v);
void set_str(napi_env env, napi_value o, const char* k, const char* v);
napi_value js_interfaces(napi_env env, napi_callback_info info);
napi_value js_parse_link_messages(napi_env env, napi_callback_info info);
napi_value js_link_watch(napi_env env, napi_callback_info info);
// responder.c
void responder_close(handle_t* h);
void responder_free(responder_t* r);
void responder_ref(responder_t* r, int ref);
napi_value js_packet_responder_open(napi_env env, napi_callback_info info);
napi_value js_packet_answer(napi_env env, napi_callback_info info);
napi_value js_packet_responder_stats(napi_env env, napi_callback_info info);
napi_value js_answer_frame(napi_env env, napi_callback_info info);
// sockopts.c
int set_md5(int fd, int family, const char* peer, const void* key, size_t keylen, const char** call);
int set_ttl(int fd, int family, int ttl, const char** call);
int set_minttl(int fd, int family, int ttl, const char** call);
int set_device(int fd, const char* dev, const char** call);
int fd_family_or_throw(napi_env env, int32_t fd, const char* call);
napi_value js_set_tcp_md5(napi_env env, napi_callback_info info);
napi_value js_set_ttl(napi_env env, napi_callback_info info);
napi_value js_set_min_ttl(napi_env env, napi_callback_info info);
napi_value js_set_bind_device(napi_env env, napi_callback_info info);
// tcp.c
int read_opts(napi_env env, napi_value o, sockopts_t* s, int need_remote);
int make_socket(napi_env env, sockopts_t* s, int type, const char* what);
napi_value js_tcp_connect(napi_env env, napi_callback_info info);
napi_value js_tcp_listen(napi_env env, napi_callback_info info);
napi_value js_local_address(napi_env env, napi_callback_info info);
napi_value js_get_ttl(napi_env env, napi_callback_info info);
// udp.c
napi_value js_udp_open(napi_env env, napi_callback_info info);
napi_value js_udp_send(napi_env env, napi_callback_info info);

#endif
