// The engine's facade. Qt-free and LibTorch-free in its interface: the CLI and the dashboard's
// controller drive runs through it and read plain value types back.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "engine/config/run_config.h"
#include "engine/models/model_info.h"
#include "engine/telemetry/events.h"

namespace ps {

struct SessionOptions {
  std::string out_dir;     // "" = no files; else summary.json, metrics.csv, ledger.csv
  std::string trace_path;  // "" = no trace; else Trace Event Format JSON
  std::size_t ui_buffer_ops = 200000;  // bound on op events kept for drain() between two drains
  // Checkpoints (a binary file of the whole session, see engine/session/checkpoint.h): written at the
  // end of the run (completed or stopped, not after a failure) and every `checkpoint_every_minutes`.
  std::string checkpoint_path;
  double checkpoint_every_minutes = 0;
  // Continue the run saved in this checkpoint (the config must be checkpoint_config()'s, with at most
  // the optimizer's settings, the length, the executor and the telemetry changed).
  std::string resume_path;
};

// Where and when the last checkpoint of a session was written.
struct CheckpointInfo {
  std::string path;
  std::int64_t step = 0;  // minibatches completed at the cut
  double wall_seconds = 0;
};

// The run configuration saved in a checkpoint. Throws InputError for a missing, torn or foreign file.
RunConfig checkpoint_config(const std::string& path);

class Session {
 public:
  // Validates the config, loads the data and builds the model. Throws InputError / DataError.
  explicit Session(RunConfig cfg, SessionOptions opts = {});
  ~Session();  // stops the run and joins every thread
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const RunConfig& config() const;
  const ModelInfo& model_info() const;
  std::vector<int> partition() const;  // first unit of every stage after the first (resolved)

  void start();   // runs on engine threads; returns at once
  void pause();   // workers stop before their next op
  void resume();
  void step(int ops = 1);  // while paused: let this many ops run
  void stop();    // asks the run to end; outputs are still written
  void set_op_delay(std::chrono::microseconds delay);  // slow motion: sleep before every op

  // Waits up to `timeout` for the run to end; true once it has ended (any status).
  bool wait_for(std::chrono::milliseconds timeout);
  void wait();

  // Saves a checkpoint to `path` ("" = SessionOptions::checkpoint_path): while the run goes on, at the
  // next op boundary of every stage (the run then continues); after it ended, its final state at once.
  // Throws InputError when there is no path or the run failed or diverged (its state is not worth it).
  void save_checkpoint(const std::string& path = "");
  std::optional<CheckpointInfo> last_checkpoint() const;

  RunStatus status() const;
  RunSummary summary() const;      // live figures while running, final ones after
  TelemetryBatch drain();          // everything new since the last drain (never blocks the engine)
  double progress() const;         // 0..1 of the planned minibatches

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ps
