// The engine's facade. Qt-free and LibTorch-free in its interface: the CLI and the dashboard's
// controller drive runs through it and read plain value types back.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/config/run_config.h"
#include "engine/dist/dist_options.h"
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
  // executor "processes": this process's rank and how the ranks meet (dist_options_from_environment()).
  // Only rank 0 writes the outputs; the others stream their telemetry to it.
  DistOptions dist;
};

// Where and when the last checkpoint of a session was written.
struct CheckpointInfo {
  std::string path;
  std::int64_t step = 0;  // minibatches completed at the cut
  double wall_seconds = 0;
};

// The run configuration saved in a checkpoint. Throws InputError for a missing, torn or foreign file.
RunConfig checkpoint_config(const std::string& path);

// Where a checkpoint's run stands: minibatches complete at the cut, and the run's planned length (its
// steps, or its epochs' worth), so a resume can default to the planned end. Throws like checkpoint_config.
struct CheckpointProgress {
  std::int64_t step = 0;
  std::int64_t planned_steps = 0;
};
CheckpointProgress checkpoint_progress(const std::string& path);

class Session {
 public:
  // Validates the config, loads the data and builds the model. Throws InputError / DataError.
  explicit Session(RunConfig cfg, SessionOptions opts = {});
  ~Session();  // stops the run and joins every thread
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const RunConfig& config() const;
  const ModelInfo& model_info() const;
  std::vector<int> partition() const;  // first unit of every stage after the first (resolved, in effect now)

  // Live repartition: moves the stage boundaries (RunConfig::partition, same number of stages).
  // Before the start it takes effect at once. During the run (running or paused) it takes effect at the
  // next flush: the pipeline finishes the minibatches already started and starts no new one, then every
  // unit that changes stage moves there with its weights (every version the stage holds), optimizer
  // state and strategy state, on the new stage's device; versions stay those of the run, training goes
  // on, and a RunMark "repartition" (drain()) marks the moment. With at_step > 0 it takes effect when
  // exactly at_step minibatches are complete, if the run has not started minibatch at_step + 1 yet (else
  // at the next flush): the same step under either executor, hence the same weights. A request while
  // one is pending replaces it. Throws InputError (field "partition") for a partition that does not fit
  // the model or the stage count, for data-parallel replicas, and after the run has ended.
  void repartition(const std::vector<int>& boundaries, std::int64_t at_step = -1);
  std::optional<std::vector<int>> pending_partition() const;  // requested, not yet in effect

  void start();   // runs on engine threads; returns at once
  void pause();   // workers stop before their next op
  void resume();
  void step(int ops = 1);  // while paused: let this many ops run
  // After step(): waits up to `timeout` until every op it let run (on this rank) has started; each of
  // them completes before a stop() takes effect (but an update waiting for its replicas' gradients,
  // which the stop interrupts and the cut runs again). False on timeout.
  bool wait_stepped(std::chrono::milliseconds timeout);
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
