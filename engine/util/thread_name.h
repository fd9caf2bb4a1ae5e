// Names for the engine's threads, as `top -H`, `perf sched`, gdb and /proc/PID/task/*/comm show them.
// Torch-free.
#pragma once
#include <string>

namespace ps {

// Names the calling thread (Linux keeps the first 15 bytes); a thread it creates starts with the same
// name. Nothing happens where the platform has no thread names.
void name_this_thread(const std::string& name);

}  // namespace ps
