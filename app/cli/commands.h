// pipescope-cli subcommands. Each returns the process exit code:
// 0 done, 1 the run failed or diverged, 2 bad input, 130 stopped by Ctrl-C / SIGTERM.
#pragma once
#include <string>
#include <vector>

namespace ps::cli {

using Args = std::vector<std::string>;

int cmd_list(const Args& args);
int cmd_run(const Args& args);
int cmd_schedule(const Args& args);
int cmd_bench(const Args& args);
int cmd_partition(const Args& args);  // plan_commands.cpp
int cmd_simulate(const Args& args);
int cmd_sweep(const Args& args);

// Small argument reader shared by the commands: --key value, --flag, repeatable keys. Every name a
// command asks for is remembered, so an unknown argument is answered with the flags the command reads.
class ArgReader {
 public:
  ArgReader(const Args& args, const std::string& command);
  bool flag(const std::string& name);                  // --name present
  std::string value(const std::string& name, const std::string& fallback = "");
  std::vector<std::string> values(const std::string& name);  // repeatable
  bool has(const std::string& name) const;
  std::vector<std::string> positional();
  void finish() const;  // throws InputError for anything not consumed, listing the known flags

 private:
  void note(const std::string& name) const;
  std::vector<std::string> args_;
  std::vector<bool> used_;
  std::string command_;
  mutable std::vector<std::string> known_;  // every flag asked for, in order
};

}  // namespace ps::cli
