{
  "targets": [
    {
      "target_name": "ironlb_native",
      "sources": ["ironlb_native.c", "errors.c", "args.c", "handles.c", "packet.c", "netlink.c", "responder.c", "sockopts.c", "tcp.c", "udp.c", "ironlb_sched.c", "ironlb_watch.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2", "-fvisibility=hidden"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
