// libFuzzer target for the preset parser (engine/config): any input must either parse into a config
// that survives a write/read round trip, or be refused with ps::InputError. Anything else (another
// exception, a crash, an ASan/UBSan report) is a bug. Each line of the input is also tried as a
// command-line override ("optimizer.lr=0.1"), which shares the field table.
//
// Built by tests/CMakeLists.txt with clang++ -fsanitize=fuzzer,address,undefined when clang++ is
// installed, and run by the ctest test `fuzz_preset` for a bounded time on presets/*.json and
// tests/fuzz/regressions/ (inputs that once crashed; test_engine_core re-reads them in every build).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/config/run_config.h"
#include "engine/util/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const ps::RunConfig cfg = ps::parse_preset(text, "fuzz.json");
    const std::string written = ps::preset_to_json(cfg);
    const ps::RunConfig back = ps::parse_preset(written, "fuzz-roundtrip.json");
    if (ps::preset_to_json(back) != written) {
      std::fprintf(stderr, "round trip changed the preset:\n%s\n", written.c_str());
      std::abort();
    }
  } catch (const ps::InputError&) {
  }

  ps::RunConfig cfg;
  std::size_t start = 0;
  for (int line = 0; line < 8 && start <= text.size(); ++line) {
    const std::size_t end = text.find('\n', start);
    const std::string assignment = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    try {
      ps::apply_override(cfg, assignment);
    } catch (const ps::InputError&) {
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  // Whatever the overrides set, the config can be written as a preset (the dashboard saves presets,
  // checkpoints keep a copy) and validated.
  (void)ps::preset_to_json(cfg);
  try {
    ps::validate(cfg);
  } catch (const ps::InputError&) {
  }
  return 0;
}
