// pipescope-cli's help: the top-level usage and `pipescope-cli COMMAND --help` for every command.
// Every flag a command reads is listed in its help (tests/cli/test_help.cpp checks the two against each
// other through the "unknown argument" error, which lists the flags the command read).
#pragma once
#include <cstdio>
#include <string>
#include <vector>

namespace ps::cli {

// The commands, in the order the usage lists them.
std::vector<std::string> command_names();

// Prints the top-level usage.
void print_usage(std::FILE* out);

// Prints COMMAND's synopsis and options; false when there is no such command.
bool print_command_help(const std::string& command, std::FILE* out);

}  // namespace ps::cli
