{
  "targets": [
    {
      "target_name": "ironlb_native",
      "sources": ["ironlb_native.c", "ironlb_sched.c", "ironlb_watch.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
