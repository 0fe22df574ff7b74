// Real-time scheduling for the calling thread (the owner watch's heartbeat worker, src/watch/).
//
// Why: a heartbeat sender that is not run for the detection time (160 ms) looks dead. On a loaded
// node a thread at nice -10 still waits for the CPU behind every runnable thread (CFS gives it a
// larger share, not the next turn); a SCHED_FIFO thread runs as soon as it wakes. Measured on the
// 2-core test host at load 13-18 (docs/performance.md): a 20 ms sleep loop woke >50 ms late 35
// times in 2 minutes at nice -10, never at SCHED_FIFO 50 (worst 19.5 ms). The kernel's RT
// throttling (sched_rt_runtime_us, 95% by default) bounds what a runaway RT thread could take.
//
// setThreadRealtime(priority): SCHED_FIFO | SCHED_RESET_ON_FORK at `priority` (1..99) for the
// calling thread only (sched_setscheduler with pid 0 acts on the caller's thread id). Needs
// CAP_SYS_NICE (or RLIMIT_RTPRIO); throws a NativeError-shaped error (errno, code, syscall).
// threadScheduling(): {policy: "fifo"|"rr"|"other"|..., priority} of the calling thread.
#define _GNU_SOURCE
#include <node_api.h>
#include "ironlb_native.h"
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>


napi_value ironlb_js_set_thread_realtime(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t prio = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_int32(env, argv[0], &prio) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "setThreadRealtime: priority must be an integer");
    return NULL;
  }
  int lo = sched_get_priority_min(SCHED_FIFO), hi = sched_get_priority_max(SCHED_FIFO);
  if (prio < lo || prio > hi) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "setThreadRealtime: priority out of the SCHED_FIFO range (1..99)");
    return NULL;
  }
  struct sched_param p = {.sched_priority = prio};
  // RESET_ON_FORK: a child process started from this thread does not inherit real-time priority.
  if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &p) != 0) {
    throw_errno(env, "sched_setscheduler(SCHED_FIFO)", errno);
    return NULL;
  }
  return NULL;
}

napi_value ironlb_js_thread_scheduling(napi_env env, napi_callback_info info) {
  int pol = sched_getscheduler(0);
  if (pol < 0) {
    throw_errno(env, "sched_getscheduler", errno);
    return NULL;
  }
  struct sched_param p = {0};
  if (sched_getparam(0, &p) != 0) {
    throw_errno(env, "sched_getparam", errno);
    return NULL;
  }
  pol &= ~SCHED_RESET_ON_FORK;
  const char* name = pol == SCHED_FIFO ? "fifo" : pol == SCHED_RR ? "rr" : pol == SCHED_OTHER ? "other" : pol == SCHED_BATCH ? "batch" : pol == SCHED_IDLE ? "idle" : "unknown";
  napi_value r, v;
  napi_create_object(env, &r);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, r, "policy", v);
  napi_create_int32(env, p.sched_priority, &v);
  napi_set_named_property(env, r, "priority", v);
  return r;
}
