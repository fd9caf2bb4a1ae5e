// The calling thread's name and priority. Torch-free.
#pragma once
#include <string>
#include <vector>

namespace ps {

// Names the calling thread, as `top -H`, `perf sched`, gdb and /proc/PID/task/*/comm show it (Linux keeps
// the first 15 bytes); a thread it creates starts with the same name. Nothing happens where the platform
// has no thread names.
void name_this_thread(const std::string& name);

// Raises the calling thread's nice value by `by` (at most to 19), this thread only; a thread it creates
// inherits the new value. For threads whose work can wait while a stage computes.
void lower_this_thread(int by);

// The cores this process may run on (its affinity: a cpuset or taskset may allow fewer than the host
// has), ascending; where the platform cannot tell, 0 .. hardware threads - 1.
std::vector<int> allowed_cores();

}  // namespace ps
