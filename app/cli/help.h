// pipescope-cli's help: the top-level usage and `pipescope-cli COMMAND --help` for every command.
// Every flag a command reads is declared on its CLI11 subcommand with its text, and the help prints those
// declarations (tests/cli/test_help.cpp checks the help against the "unknown argument" error, which lists
// the same declarations).
#pragma once
#include <cstdio>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace ps::cli {

// The commands, in the order the usage lists them ("help" last).
std::vector<std::string> command_names();

// The paragraph under COMMAND's synopsis ("" for no such command).
std::string command_summary(const std::string& command);

// Every name of every option `command` declares ("--steps", "--verbose", "-v"), help left out.
std::vector<std::string> flag_names(const CLI::App& command);

// Prints the top-level usage.
void print_usage(std::FILE* out);

// Prints the command's synopsis, summary, options with their text, notes and exit codes.
void print_command_help(const CLI::App& command, std::FILE* out);

}  // namespace ps::cli
