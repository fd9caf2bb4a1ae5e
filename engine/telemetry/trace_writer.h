// Streams a run's ops and transfers to a Chrome/Perfetto Trace Event Format JSON file while the run
// goes (open it in ui.perfetto.dev or chrome://tracing).
//
// Layout: one process per stage (pid = stage + 1, named "stage K (DEVICE)"), thread 1 "compute" with
// the F/B/U slices, thread 2 "transfers" with the activations and gradients the stage sends. Each
// minibatch gets a flow (id = minibatch + 1) whose arrows follow its F and B slices across stages in
// time order. Per-stage counters: "staleness" (series forward/backward) and "weight copies".
// Flows are written once settled (stage 0 updated S minibatches past them, checked between batches),
// at finish(), or when too many are open; events arriving after their flow was written draw no arrow.
//
// The file is written as FILE.partial and renamed to FILE by finish(), so a reader never finds half a
// trace under the final name. finish() runs from the destructor too; an interrupted run (Ctrl-C) must
// reach either of them from ordinary code, not from a signal handler.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/telemetry/events.h"
#include "engine/telemetry/text_file.h"

namespace ps {

class TraceWriter {
 public:
  // stage_devices[k] is stage k's device ("cpu:0", "cuda:1"); its size is the stage count.
  // Throws InputError(path, "", reason) when FILE.partial cannot be created.
  TraceWriter(std::string path, std::vector<std::string> stage_devices);
  ~TraceWriter();  // finish(), errors swallowed
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  // Thread-safe. Events arriving after finish() are ignored.
  void add(const OpEvent& op);
  void add(const TransferEvent& transfer);
  void add(const TelemetryBatch& batch);  // its ops and transfers, then a write to disk

  // Writes the remaining flows, closes the JSON and renames FILE.partial to FILE. Idempotent.
  // Throws InputError(path, "", reason) on a failed write or rename.
  void finish();

  bool finished() const;
  const std::string& path() const { return path_; }
  std::string partial_path() const { return path_ + ".partial"; }

 private:
  struct FlowPoint {
    double ts_us;
    int pid;
  };

  void name_process_locked(int stage);
  void write_op_locked(const OpEvent& op);
  void write_transfer_locked(const TransferEvent& t);
  void write_mark_locked(const RunMark& m);
  void note_flow_point_locked(const OpEvent& op);
  void write_flow_locked(int minibatch, std::vector<FlowPoint> points);
  void write_flows_through_locked(int last_minibatch);
  void emit_locked(const std::string& event_json);
  void write_buffer_locked();

  mutable std::mutex mutex_;
  std::string path_;
  std::vector<std::string> stage_devices_;
  std::unique_ptr<LineFile> file_;  // FILE.partial
  std::string buffer_;              // serialized events not yet on disk
  bool first_event_ = true;
  bool finished_ = false;
  std::vector<bool> process_named_;
  // Transfers of one sender may overlap (several messages in a channel); a slice track must nest, so
  // each goes to the first of the sender's transfer lanes that is free by its start (end times, in us).
  std::map<int, std::vector<double>> transfer_lanes_;
  std::vector<std::optional<int>> last_weight_copies_;  // per stage, for the change-only counter
  std::map<int, std::vector<FlowPoint>> open_flows_;    // minibatch -> its F/B slices so far
  int flows_written_through_ = -1;                      // minibatches <= this have their flow on disk
  int settled_through_ = -1;                            // minibatches <= this have all their F/B events done
  int settled_before_this_batch_ = -1;                  // settled_through_ as it was when the previous batch ended
};

}  // namespace ps
