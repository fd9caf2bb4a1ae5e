#include "engine/dist/dist_options.h"

#include <cstdlib>

#include "engine/util/errors.h"

namespace ps {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

int env_int(const char* name, int lo, int hi) {
  const std::string text = env(name);
  try {
    std::size_t used = 0;
    const int v = std::stoi(text, &used);
    if (used == text.size() && v >= lo && v <= hi) return v;
  } catch (...) {
  }
  throw InputError("environment", name,
                   "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got '" + text + "'");
}

}  // namespace

std::optional<DistOptions> dist_options_from_environment() {
  DistOptions o;
  if (!env("PIPESCOPE_RANK").empty()) {
    o.launched = true;
    o.world = env_int("PIPESCOPE_WORLD_SIZE", 1, 4096);
    o.rank = env_int("PIPESCOPE_RANK", 0, o.world - 1);
    o.store_file = env("PIPESCOPE_STORE_FILE");
    o.token = env("PIPESCOPE_RUN_TOKEN");
    o.local_rank = o.rank;  // one host
    if (o.store_file.empty()) throw InputError("environment", "PIPESCOPE_STORE_FILE", "is needed with PIPESCOPE_RANK");
    return o;
  }
  if (env("RANK").empty() || env("WORLD_SIZE").empty()) return std::nullopt;
  o.world = env_int("WORLD_SIZE", 1, 4096);
  o.rank = env_int("RANK", 0, o.world - 1);
  o.master_addr = env("MASTER_ADDR");
  if (o.master_addr.empty()) throw InputError("environment", "MASTER_ADDR", "is needed with RANK and WORLD_SIZE");
  o.master_port = env_int("MASTER_PORT", 1, 65535);
  if (!env("LOCAL_RANK").empty()) o.local_rank = env_int("LOCAL_RANK", 0, 4095);
  o.token = env("TORCHELASTIC_RUN_ID");
  if (env("TORCHELASTIC_USE_AGENT_STORE") == "True") {
    o.agent_store = true;
    const std::string attempt = env("TORCHELASTIC_RESTART_COUNT");
    o.key_prefix = "/worker/attempt_" + (attempt.empty() ? std::string("0") : attempt);
  }
  return o;
}

DistOptions file_store_rank(const std::string& store_file, int rank, int world, const std::string& token) {
  DistOptions o;
  o.rank = rank;
  o.world = world;
  o.store_file = store_file;
  o.token = token;
  return o;
}

}  // namespace ps
