// Error types that cross the engine boundary. Each carries what a user needs to fix the input:
// the file, the field path (or op) and the reason. Tools map them to exit codes.
#pragma once
#include <stdexcept>
#include <string>

namespace ps {

// Bad input: a preset, a command-line value, a data file. Exit code 2.
class InputError : public std::runtime_error {
 public:
  InputError(std::string file, std::string field, std::string reason)
      : std::runtime_error(compose(file, field, reason)),
        file_(std::move(file)), field_(std::move(field)), reason_(std::move(reason)) {}
  const std::string& file() const { return file_; }
  const std::string& field() const { return field_; }
  const std::string& reason() const { return reason_; }

 private:
  static std::string compose(const std::string& file, const std::string& field, const std::string& reason) {
    std::string s = file;
    if (!field.empty()) s += (s.empty() ? "" : ": ") + field;
    return s + (s.empty() ? "" : ": ") + reason;
  }
  std::string file_, field_, reason_;
};

// A data file that is missing, truncated or corrupt.
class DataError : public InputError {
 public:
  DataError(std::string file, std::string reason) : InputError(std::move(file), "", std::move(reason)) {}
};

// A failure inside the pipeline: which stage, which op, which minibatch.
class PipelineError : public std::runtime_error {
 public:
  PipelineError(int stage, std::string op, int minibatch, std::string reason)
      : std::runtime_error("stage " + std::to_string(stage) + ", op " + op + ", minibatch " +
                           std::to_string(minibatch) + ": " + reason),
        stage_(stage), op_(std::move(op)), minibatch_(minibatch), reason_(std::move(reason)) {}
  int stage() const { return stage_; }
  const std::string& op() const { return op_; }
  int minibatch() const { return minibatch_; }
  const std::string& reason() const { return reason_; }

 private:
  int stage_;
  std::string op_;
  int minibatch_;
  std::string reason_;
};

}  // namespace ps
