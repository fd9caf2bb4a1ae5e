// A checkpoint file: the whole state of a session at a cut of its pipeline (see Pipeline::Cut), so
// that a resumed run continues bit for bit where the saved one stopped. Internal to the engine.
//
// File format (little-endian, all sizes in bytes):
//   "PSCKPT01"                        magic and format version
//   u64 meta_size, meta               JSON: config, progress, per-stage scalars, tensor index
//   u64 count, then per tensor:       u32 name_size, name, i32 dtype, u32 dims, i64 sizes[dims],
//                                     u64 data_size, data (contiguous, CPU)
//   u64 fnv1a                         of everything above: a torn or altered file is refused
// Written to FILE.tmp and renamed over FILE, so FILE is always either the old or the new checkpoint.
#pragma once
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <deque>
#include <map>
#include <string>
#include <vector>

namespace ps {

struct Message;
struct MinibatchResult;
struct StepMetrics;
struct EvalMetrics;

struct Checkpoint {
  std::string source;  // the file it was read from (error messages)
  nlohmann::json meta;
  std::map<std::string, at::Tensor> tensors;

  // Helpers for lists of possibly-undefined tensors (an undefined one is recorded as absent).
  void put(const std::string& name, const at::Tensor& t);
  void put_list(const std::string& name, const std::vector<at::Tensor>& list);
  at::Tensor get(const std::string& name) const;  // undefined when absent
  std::vector<at::Tensor> get_list(const std::string& name) const;
};

// Atomic write. Throws std::runtime_error naming the file when it cannot be written.
void save_checkpoint(const std::string& path, const Checkpoint& ckpt);
// Throws InputError(path, field, reason) for a missing, torn, foreign or corrupt file.
Checkpoint load_checkpoint(const std::string& path);

// A session's records in a checkpoint: messages in transit (tensors stored under `prefix`), the metrics
// history and the results not yet collected, each as a compact JSON value.
nlohmann::json put_messages(Checkpoint& c, const std::deque<Message>& messages, const std::string& prefix);
std::deque<Message> get_messages(const Checkpoint& c, const nlohmann::json& list);
nlohmann::json step_json(const StepMetrics& m);
StepMetrics step_from(const nlohmann::json& j);
nlohmann::json eval_json(const EvalMetrics& m);
EvalMetrics eval_from(const nlohmann::json& j);
nlohmann::json result_json(const MinibatchResult& r);
MinibatchResult result_from(const nlohmann::json& j);

}  // namespace ps
