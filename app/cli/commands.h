// pipescope-cli subcommands. Each declares its options on its CLI11 subcommand (with the help text of
// every flag) and, once the line is parsed, runs from the parsed subcommand and returns the exit code:
// 0 done, 1 the run failed or diverged, 2 bad input, 130 stopped by Ctrl-C / SIGTERM.
#pragma once
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace ps::cli {

using Args = std::vector<std::string>;  // the words after the command, as given (a run passes them to its ranks)

void declare_list(CLI::App& command);
int cmd_list(const CLI::App& command, const Args& args);
void declare_run(CLI::App& command);
int cmd_run(const CLI::App& command, const Args& args);
void declare_schedule(CLI::App& command);
int cmd_schedule(const CLI::App& command, const Args& args);
void declare_bench(CLI::App& command);  // bench.cpp
int cmd_bench(const CLI::App& command, const Args& args);
void declare_partition(CLI::App& command);  // plan_commands.cpp
int cmd_partition(const CLI::App& command, const Args& args);
void declare_simulate(CLI::App& command);
int cmd_simulate(const CLI::App& command, const Args& args);
void declare_sweep(CLI::App& command);  // sweep.cpp
int cmd_sweep(const CLI::App& command, const Args& args);

// The names the engine's catalogs know, for the help of --schedule and --strategy: "gpipe, 1f1b-flush, ...".
std::string schedule_choices();
std::string strategy_choices();  // the implemented ones

// Declarations on a subcommand (main.cpp): `--name TYPE` (names "--steps" or "--verbose,-v"), a flag
// without a value, and positional words. Each may be given more than once; every flag takes one value.
void add_value(CLI::App& command, const std::string& names, const std::string& type, const std::string& text);
void add_switch(CLI::App& command, const std::string& names, const std::string& text);
void add_words(CLI::App& command, const std::string& name, const std::string& text, bool many);

// The values a parsed subcommand was given, as written: every value is read and checked by the command
// (InputError naming the flag), so the messages are the engine's and help is never blocked by a bad value.
class ArgValues {
 public:
  explicit ArgValues(const CLI::App& command) : command_(command) {}
  bool has(const std::string& name) const;   // given at least once
  bool flag(const std::string& name) const { return has(name); }
  std::string value(const std::string& name, const std::string& fallback = "") const;  // the last one wins
  std::vector<std::string> values(const std::string& name) const;                      // every one, in order

 private:
  const CLI::App& command_;
};

}  // namespace ps::cli
