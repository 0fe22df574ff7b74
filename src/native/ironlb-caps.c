// ironlb-caps: runs a program as the current (non-root) user with the capabilities this launcher
// holds, by raising them into the ambient set before exec.
//
// Why: Kubernetes puts securityContext.capabilities.add into a container's bounding and permitted
// sets but never into the ambient set (containerd and CRI-O clear it; kubernetes/kubernetes#56374,
// KEP PR kubernetes/enhancements#2757), so a non-root process loses every capability at its first
// exec. The image gives this small launcher file capabilities (setcap cap_net_raw,
// cap_net_bind_service=+p): at exec the kernel grants them as far as the container's bounding set
// allows (so only what the Pod adds), also with allowPrivilegeEscalation: false (no_new_privs
// forbids gaining more than the container's permitted set, which holds the added capabilities).
// The launcher raises what it got into the inheritable and ambient sets and execs the program,
// which then runs with exactly those capabilities in effect. No effective bit on the file: the
// kernel then refuses nothing when the bounding set holds fewer capabilities than the file lists.
//
// Usage: ironlb-caps PROGRAM [ARGS...]   (prints one JSON line on stderr with what it raised)
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#endif

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "{\"level\":\"error\",\"component\":\"ironlb-caps\",\"msg\":\"usage: ironlb-caps PROGRAM [ARGS...]\"}\n");
    return 2;
  }
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
  memset(data, 0, sizeof data);
  if (syscall(SYS_capget, &hdr, data) != 0) {
    fprintf(stderr, "{\"level\":\"error\",\"component\":\"ironlb-caps\",\"msg\":\"capget failed: %s\"}\n", strerror(errno));
    return 1;
  }
  // Inheritable := permitted (allowed without CAP_SETPCAP: a subset of the permitted set).
  for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) data[i].inheritable = data[i].permitted;
  if (syscall(SYS_capset, &hdr, data) != 0) {
    fprintf(stderr, "{\"level\":\"error\",\"component\":\"ironlb-caps\",\"msg\":\"capset failed: %s\"}\n", strerror(errno));
    return 1;
  }
  char raised[1024] = "";
  size_t used = 0;
  for (int cap = 0; cap < 64; cap++) {
    if (!(data[cap / 32].permitted & (1u << (cap % 32)))) continue;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) {
      fprintf(stderr, "{\"level\":\"error\",\"component\":\"ironlb-caps\",\"msg\":\"cannot raise capability %d into the ambient set: %s\"}\n", cap, strerror(errno));
      return 1;
    }
    int n = snprintf(raised + used, sizeof raised - used, "%s%d", used ? "," : "", cap);
    if (n > 0 && (size_t)n < sizeof raised - used) used += (size_t)n;
  }
  fprintf(stderr, "{\"level\":\"info\",\"component\":\"ironlb-caps\",\"uid\":%u,\"ambient\":[%s],\"msg\":\"capabilities raised into the ambient set; exec %s\"}\n", (unsigned)getuid(), raised, argv[1]);
  execvp(argv[1], argv + 1);
  fprintf(stderr, "{\"level\":\"error\",\"component\":\"ironlb-caps\",\"msg\":\"exec %s failed: %s\"}\n", argv[1], strerror(errno));
  return 127;
}
