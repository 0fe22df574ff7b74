// ironlb's one native addon: only what Node cannot do by itself.
//  - AF_PACKET raw sockets (ARP/NDP announcer), packet multicast membership, classic BPF filters,
//    receive buffer sizing and the kernel's drop counters (PACKET_STATISTICS)
//  - interface facts from an rtnetlink dump, and a netlink watcher that signals link/address changes
//  - TCP sockets with options that must be set before the SYN (TCP_MD5SIG, TTL, min TTL, device)
//  - UDP sockets that report the received TTL / hop limit (BFD's GTSM check)
//  - the ARP / Neighbor Solicitation responder: a thread per responder socket answers requests for
//    the addresses JavaScript installed, without waking JavaScript (section "responder" below)
// Reads are driven by libuv uv_poll_t on the main loop (the responder's own thread apart); every
// callback into JS goes through napi_make_callback so promises resolved inside it run, and
// exceptions become fatal exceptions.
//
// Hardening rules (issue 13 item 16):
//  - every argument is checked: a wrong type throws TypeError, a value out of range RangeError,
//    a missing argument TypeError (never a silent undefined); nothing is truncated or wrapped.
//  - JavaScript never passes raw file descriptor numbers in: sockets are referred to by handles
//    (napi externals). A handle for a socket owned elsewhere (a net.Socket's fd) remembers the
//    socket's identity (device and inode) and refuses every call once that number refers to
//    anything else, so a stale handle can never change a new socket that reused its number.
//  - the netlink parser reads every header and attribute only after checking its length.
//
// One C file per job; ironlb_native.h holds what they share. This file registers the exports.
#include "ironlb_native.h"

unsigned char recv_buf[RECV_BUF_SIZE];

#define FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      FN("close", js_close),
      FN("setRef", js_set_ref),
      FN("handleFd", js_fd),
      FN("socketRef", js_socket_ref),
      FN("packetOpen", js_packet_open),
      FN("packetSend", js_packet_send),
      FN("packetMembership", js_packet_membership),
      FN("packetSetFilter", js_packet_filter),
      FN("packetSetReceiveBuffer", js_packet_rcvbuf),
      FN("packetStats", js_packet_stats),
      FN("packetResponderOpen", js_packet_responder_open),
      FN("packetAnswer", js_packet_answer),
      FN("packetResponderStats", js_packet_responder_stats),
      FN("answerFrame", js_answer_frame),
      FN("packetProbe", js_packet_probe),
      FN("interfaces", js_interfaces),
      FN("parseLinkMessages", js_parse_link_messages),
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
      FN("setThreadRealtime", ironlb_js_set_thread_realtime),
      FN("threadScheduling", ironlb_js_thread_scheduling),
      FN("watchOpen", ironlb_js_watch_open),
      FN("watchInfo", ironlb_js_watch_info),
      FN("watchSetKeys", ironlb_js_watch_set_keys),
      FN("watchSetTargets", ironlb_js_watch_set_targets),
      FN("watchDrain", ironlb_js_watch_drain),
      FN("watchStats", ironlb_js_watch_stats),
      FN("watchClose", ironlb_js_watch_close),
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
