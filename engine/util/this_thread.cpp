#include "engine/util/this_thread.h"

#include <algorithm>
#include <cerrno>

#if defined(__linux__)
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace ps {

void name_this_thread(const std::string& name) {
#if defined(__linux__)
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
#else
  (void)name;
#endif
}

void lower_this_thread(int by) {
#if defined(__linux__)
  const auto self = static_cast<id_t>(syscall(SYS_gettid));  // Linux: a thread's own nice value
  errno = 0;
  const int now = getpriority(PRIO_PROCESS, self);
  if (errno == 0) setpriority(PRIO_PROCESS, self, std::min(19, now + by));
#else
  (void)by;
#endif
}

}  // namespace ps
