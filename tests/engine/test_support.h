// Shared by the engine tests: the source tree (presets), a scratch directory of each test's own, and
// stopping a session after a given number of ops.
#pragma once
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "engine/session/session.h"

namespace ps::test {

// $PIPESCOPE_SOURCE_DIR (ctest sets it), else the tree this build was configured from.
inline std::string source_dir() {
  const char* env = std::getenv("PIPESCOPE_SOURCE_DIR");
#ifdef PIPESCOPE_SOURCE_DIR
  return env ? env : PIPESCOPE_SOURCE_DIR;
#else
  return env ? env : ".";
#endif
}

// An empty directory under the system's temporary one: <prefix>_<name>_<pid> (parallel ctest runs of
// the same test in other processes do not meet).
inline std::filesystem::path fresh_dir(const std::string& prefix, const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / (prefix + "_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Lets a started, paused session run `ops` more ops (one step credit each), waits until every one of
// them has started (a state, not a time: under load the run may make no progress for a while), then
// stops it and waits for its end: the ops under way complete first, so the cut falls after exactly
// `ops` ops.
inline void run_ops_then_stop(Session& s, int ops) {
  s.step(ops);
  EXPECT_TRUE(s.wait_stepped(std::chrono::minutes(2))) << "the stepped ops did not start";
  s.stop();
  s.wait();
}

}  // namespace ps::test
