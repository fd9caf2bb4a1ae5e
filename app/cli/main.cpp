// pipescope-cli: the headless runner. See `pipescope-cli help` and `pipescope-cli COMMAND --help`.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>

#include "commands.h"
#include "engine/config/suggest.h"
#include "engine/util/allocator.h"
#include "engine/util/errors.h"
#include "help.h"

namespace {

bool asks_for_help(const ps::cli::Args& args) {
  return std::any_of(args.begin(), args.end(), [](const std::string& a) { return a == "--help" || a == "-h"; });
}

}  // namespace

int main(int argc, char** argv) {
  ps::keep_freed_memory();  // before any tensor: a step's buffers stay in the heap (issue 18)
  if (argc < 2) {
    ps::cli::print_usage(stderr);
    return 2;
  }
  const std::string command = argv[1];
  ps::cli::Args args(argv + 2, argv + argc);
  try {
    if (command == "help" || command == "--help" || command == "-h") {
      if (args.empty()) {
        ps::cli::print_usage(stdout);
        return 0;
      }
      if (ps::cli::print_command_help(args[0], stdout)) return 0;
      throw ps::InputError("command line", "help", ps::unknown_name_reason("command", args[0], ps::cli::command_names()));
    }
    // COMMAND --help: that command's options, before anything is checked or loaded.
    if (asks_for_help(args) && ps::cli::print_command_help(command, stdout)) return 0;
    if (command == "list") return ps::cli::cmd_list(args);
    if (command == "run") return ps::cli::cmd_run(args);
    if (command == "schedule") return ps::cli::cmd_schedule(args);
    if (command == "bench") return ps::cli::cmd_bench(args);
    if (command == "partition") return ps::cli::cmd_partition(args);
    if (command == "simulate") return ps::cli::cmd_simulate(args);
    if (command == "sweep") return ps::cli::cmd_sweep(args);
    std::fprintf(stderr, "error: command line: %s\n",
                 ps::unknown_name_reason("command", command, ps::cli::command_names()).c_str());
    ps::cli::print_usage(stderr);
    return 2;
  } catch (const ps::InputError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
