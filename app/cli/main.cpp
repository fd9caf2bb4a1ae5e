// pipescope-cli: the headless runner. See `pipescope-cli help` and `pipescope-cli COMMAND --help`.
//
// The line is parsed by CLI11: one subcommand per command, whose declarations (commands.h: add_value,
// add_switch, add_words) are both what the parser accepts and what the help prints. Values stay text: each
// command checks its own (InputError naming the flag, exit 2), so `COMMAND --help` wins over any bad value
// on the same line. An unknown word is refused with the flags the command knows; an unknown command
// with every command.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>

#include "commands.h"
#include "engine/config/suggest.h"
#include "engine/util/allocator.h"
#include "engine/util/errors.h"
#include "help.h"

namespace ps::cli {

void add_value(CLI::App& command, const std::string& names, const std::string& type, const std::string& text) {
  command.add_option(names)
      ->type_name(type)
      ->description(text)
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

void add_switch(CLI::App& command, const std::string& names, const std::string& text) {
  command.add_flag(names)->description(text)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

void add_words(CLI::App& command, const std::string& name, const std::string& text, bool many) {
  CLI::Option* o = command.add_option(name)->description(text)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  if (many) o->expected(0, -1)->allow_extra_args(true);  // a positional takes more words only so
}

bool ArgValues::has(const std::string& name) const { return command_.get_option(name)->count() > 0; }

std::string ArgValues::value(const std::string& name, const std::string& fallback) const {
  const auto& all = command_.get_option(name)->results();
  return all.empty() ? fallback : all.back();
}

std::vector<std::string> ArgValues::values(const std::string& name) const {
  return command_.get_option(name)->results();
}

namespace {

struct Command {
  const char* name;
  void (*declare)(CLI::App&);
  int (*run)(const CLI::App&, const Args&);
};

// In the order of the usage (help.cpp).
const Command kCommands[] = {
    {"list", declare_list, cmd_list},
    {"run", declare_run, cmd_run},
    {"schedule", declare_schedule, cmd_schedule},
    {"bench", declare_bench, cmd_bench},
    {"partition", declare_partition, cmd_partition},
    {"simulate", declare_simulate, cmd_simulate},
    {"sweep", declare_sweep, cmd_sweep},
};

const CLI::App* find_command(const CLI::App& app, const std::string& name) {
  const auto found = app.get_subcommands([&](const CLI::App* c) { return c->get_name() == name; });
  return found.empty() ? nullptr : found.front();
}

bool asks_for_help(const Args& words) {
  return std::any_of(words.begin(), words.end(), [](const std::string& w) { return w == "--help" || w == "-h"; });
}

// A word the command does not take: the flags it does, and the nearest of them.
InputError unknown_argument(const CLI::App& command, const std::string& word) {
  const std::vector<std::string> known = flag_names(command);
  const std::string near = nearest_name(word.substr(0, word.find('=')), known);
  const std::string& name = command.get_name();
  return InputError("command line", word,
                    "unknown argument for '" + name + "'" + (near.empty() ? "" : "; did you mean '" + near + "'?") +
                        " (known: " + join_names(known) + "; see pipescope-cli " + name + " --help)");
}

// CLI11's own complaints as the runner's: "command line: FLAG: reason".
InputError usage_error(const CLI::App* command, const CLI::ParseError& e) {
  const std::string what = e.what();
  const auto colon = what.find(':');
  const std::string flag = what.rfind('-', 0) == 0 && colon != std::string::npos ? what.substr(0, colon) : "";
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) && !flag.empty())
    return InputError("command line", flag, "needs a value");
  return InputError("command line", flag.empty() && command ? command->get_name() : flag,
                    flag.empty() ? what : what.substr(colon + 1 + (what.size() > colon + 1 && what[colon + 1] == ' ')));
}

int run_command_line(const Args& words) {
  CLI::App app("pipescope-cli", "pipescope-cli");
  app.set_help_flag("--help,-h", "this text");  // each subcommand gets the same
  app.allow_extras();                            // an unknown command is answered below, with every command
  app.require_subcommand(0, 1);                  // one command: later words are its own, never a second command
  for (const Command& c : kCommands) {
    CLI::App* sub = app.add_subcommand(c.name, command_summary(c.name));
    sub->allow_extras();  // unknown words are answered below, with the flags the command knows
    c.declare(*sub);
  }
  CLI::App* help = app.add_subcommand("help", command_summary("help"));
  help->allow_extras();
  add_words(*help, "COMMAND", "the command whose options to print", false);

  std::optional<InputError> refused;
  try {
    app.parse(Args(words.rbegin(), words.rend()));  // CLI11 takes the words last first
  } catch (const CLI::CallForHelp&) {
    const auto chosen = app.get_subcommands();
    if (chosen.empty()) print_usage(stdout);
    else print_command_help(*chosen.front(), stdout);
    return 0;
  } catch (const CLI::ParseError& e) {
    const auto chosen = app.get_subcommands();
    refused = usage_error(chosen.empty() ? nullptr : chosen.front(), e);
  }
  const auto chosen = app.get_subcommands();
  // COMMAND --help: that command's options, whatever else is on the line (even where --help was
  // taken for another flag's value).
  if (!chosen.empty() && asks_for_help(words)) {
    print_command_help(*chosen.front(), stdout);
    return 0;
  }
  if (refused) throw *refused;
  if (chosen.empty()) {
    const auto rest = app.remaining();
    if (!rest.empty())
      std::fprintf(stderr, "error: command line: %s\n",
                   unknown_name_reason("command", rest.front(), command_names()).c_str());
    print_usage(stderr);
    return 2;
  }
  const CLI::App& command = *chosen.front();
  std::vector<std::string> extra = command.remaining();
  for (const auto& w : app.remaining()) extra.push_back(w);
  if (!extra.empty()) throw unknown_argument(command, extra.front());

  if (&command == help) {
    const std::string name = ArgValues(command).value("COMMAND");
    if (name.empty()) {
      print_usage(stdout);
      return 0;
    }
    const CLI::App* asked = find_command(app, name);
    if (!asked) throw InputError("command line", "help", unknown_name_reason("command", name, command_names()));
    print_command_help(*asked, stdout);
    return 0;
  }
  const Args args(std::find(words.begin(), words.end(), command.get_name()) + 1, words.end());
  for (const Command& c : kCommands)
    if (command.get_name() == c.name) return c.run(command, args);
  throw std::logic_error("command '" + command.get_name() + "' has no runner");
}

}  // namespace
}  // namespace ps::cli

int main(int argc, char** argv) {
  ps::keep_freed_memory();  // before any tensor: a step's buffers stay in the heap (issue 18)
  if (argc < 2) {
    ps::cli::print_usage(stderr);
    return 2;
  }
  try {
    return ps::cli::run_command_line(ps::cli::Args(argv + 1, argv + argc));
  } catch (const ps::InputError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
