#include "engine/telemetry/trace_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "engine/util/errors.h"

namespace ps {

namespace {

using Json = nlohmann::ordered_json;  // keeps name/ph/pid/... first: readable by eye

constexpr int kComputeTid = 1;
constexpr int kTransfersTid = 2;
constexpr int kTransferLaneTid = 100;  // + lane, for overlapping transfers (lane 0 is kTransfersTid)
constexpr std::size_t kWriteThreshold = 64 * 1024;
// Bounds the flows kept in memory when no update at stage 0 ever settles them.
constexpr std::size_t kMaxOpenFlows = 4096;

int pid_of(int stage) { return stage + 1; }
double to_us(std::int64_t ns) { return static_cast<double>(ns) / 1000.0; }
double duration_us(std::int64_t start_ns, std::int64_t end_ns) {
  return to_us(std::max<std::int64_t>(0, end_ns - start_ns));
}

const char* category_of(OpKind kind) {
  switch (kind) {
    case OpKind::Forward:
      return "forward";
    case OpKind::Backward:
      return "backward";
    case OpKind::Update:
      return "update";
    case OpKind::InputGrad:
      return "input-grad";
    case OpKind::WeightGrad:
      return "weight-grad";
  }
  return "op";
}

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json metadata(const char* name, int pid, int tid, Json args) {
  return Json{{"name", name}, {"ph", "M"}, {"pid", pid}, {"tid", tid}, {"args", std::move(args)}};
}

Json counter(const char* name, int pid, double ts_us, Json args) {
  return Json{{"name", name},       {"ph", "C"},   {"pid", pid},
              {"tid", kComputeTid}, {"ts", ts_us}, {"args", std::move(args)}};
}

std::unique_ptr<LineFile> open_partial(const std::string& path) {
  if (path.empty()) throw InputError(path, "", "the trace path is empty");
  try {
    return std::make_unique<LineFile>(path + ".partial");
  } catch (const InputError& e) {
    throw InputError(path, "", e.reason());
  }
}

}  // namespace

TraceWriter::TraceWriter(std::string path, std::vector<std::string> stage_devices)
    : path_(std::move(path)), stage_devices_(std::move(stage_devices)), file_(open_partial(path_)) {
  buffer_ = "{\"traceEvents\":[\n";
  for (int k = 0; k < static_cast<int>(stage_devices_.size()); ++k) name_process_locked(k);
  write_buffer_locked();
}

TraceWriter::~TraceWriter() {
  try {
    finish();
  } catch (...) {
    // A destructor must not throw; the partial file stays behind as evidence.
  }
}

bool TraceWriter::finished() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return finished_;
}

void TraceWriter::add(const OpEvent& op) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_ || op.stage < 0) return;
  write_op_locked(op);
  if (buffer_.size() >= kWriteThreshold) write_buffer_locked();
}

void TraceWriter::add(const TransferEvent& transfer) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_ || transfer.from_stage < 0) return;
  write_transfer_locked(transfer);
  if (buffer_.size() >= kWriteThreshold) write_buffer_locked();
}

void TraceWriter::add(const TelemetryBatch& batch) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  for (const OpEvent& op : batch.ops)
    if (op.stage >= 0) write_op_locked(op);
  for (const TransferEvent& t : batch.transfers)
    if (t.from_stage >= 0) write_transfer_locked(t);
  for (const RunMark& m : batch.marks) write_mark_locked(m);
  // One batch of lag: a drain that read stage 0's ring before another stage's may bring that stage's
  // older events in the next batch.
  write_flows_through_locked(settled_before_this_batch_);
  settled_before_this_batch_ = settled_through_;
  write_buffer_locked();
}

void TraceWriter::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;  // even on failure below: a second attempt could only make things worse
  write_flows_through_locked(std::numeric_limits<int>::max());
  buffer_ += "\n],\n\"displayTimeUnit\":\"ms\"}\n";
  write_buffer_locked();
  file_->close();
  if (std::rename(partial_path().c_str(), path_.c_str()) != 0)
    throw InputError(path_, "", std::string("cannot rename the finished trace into place: ") + std::strerror(errno));
}

void TraceWriter::name_process_locked(int stage) {
  if (stage < static_cast<int>(process_named_.size()) && process_named_[stage]) return;
  if (stage >= static_cast<int>(process_named_.size())) {
    process_named_.resize(stage + 1, false);
    last_weight_copies_.resize(stage + 1);
  }
  process_named_[stage] = true;
  const std::string device = stage < static_cast<int>(stage_devices_.size()) ? stage_devices_[stage] : "unknown device";
  const int pid = pid_of(stage);
  emit_locked(
      dump(metadata("process_name", pid, 0, {{"name", "stage " + std::to_string(stage) + " (" + device + ")"}})));
  emit_locked(dump(metadata("process_sort_index", pid, 0, {{"sort_index", stage}})));
  emit_locked(dump(metadata("thread_name", pid, kComputeTid, {{"name", "compute"}})));
  emit_locked(dump(metadata("thread_sort_index", pid, kComputeTid, {{"sort_index", kComputeTid}})));
  emit_locked(dump(metadata("thread_name", pid, kTransfersTid, {{"name", "transfers"}})));
  emit_locked(dump(metadata("thread_sort_index", pid, kTransfersTid, {{"sort_index", kTransfersTid}})));
}

void TraceWriter::write_op_locked(const OpEvent& op) {
  name_process_locked(op.stage);
  const int pid = pid_of(op.stage);
  const double ts = to_us(op.t_start_ns);
  Json args = {{"minibatch", op.minibatch},
               {"microbatch", op.micro},
               {"stage", op.stage},
               {"live_version", op.live_version},
               {"basis_version", op.basis_version},
               {"target_version", op.target_version},
               {"staleness", op.staleness()}};
  if (op.loss >= 0) args["loss"] = op.loss;
  if (op.divergence >= 0) args["divergence"] = op.divergence;
  if (op.prediction_gain >= 0) args["prediction_gain"] = op.prediction_gain;
  // A device holding several chunks: the op's name says which chunk (F3.1@2).
  const int chunk = op.device >= 0 ? op.stage : -1;
  emit_locked(dump(Json{{"name", op_name(Op{op.kind, op.minibatch, op.micro, chunk})},
                        {"cat", category_of(op.kind)},
                        {"ph", "X"},
                        {"pid", pid},
                        {"tid", kComputeTid},
                        {"ts", ts},
                        {"dur", duration_us(op.t_start_ns, op.t_end_ns)},
                        {"args", std::move(args)}}));

  if (op.kind == OpKind::Forward) emit_locked(dump(counter("staleness", pid, ts, {{"forward", op.staleness()}})));
  if (op.kind == OpKind::Backward) emit_locked(dump(counter("staleness", pid, ts, {{"backward", op.staleness()}})));
  std::optional<int>& last_copies = last_weight_copies_[op.stage];
  if (last_copies != op.weight_copies) {
    last_copies = op.weight_copies;
    emit_locked(dump(counter("weight copies", pid, to_us(op.t_end_ns), {{"copies", op.weight_copies}})));
  }

  if (op.kind == OpKind::Update) {
    // All of a minibatch's F and B ran before stage 0 updated S minibatches past it.
    if (op.stage == 0)
      settled_through_ =
          std::max(settled_through_, op.minibatch - std::max(1, static_cast<int>(process_named_.size())));
  } else {
    note_flow_point_locked(op);
  }
}

void TraceWriter::write_transfer_locked(const TransferEvent& t) {
  name_process_locked(t.from_stage);
  const double start = to_us(t.t_start_ns), end = start + duration_us(t.t_start_ns, t.t_end_ns);
  std::vector<double>& lanes = transfer_lanes_[t.from_stage];
  std::size_t lane = 0;
  while (lane < lanes.size() && lanes[lane] > start) ++lane;
  if (lane == lanes.size()) {
    lanes.push_back(end);
    if (lane > 0) {  // a new track under the first: "transfers 2", ...
      const int pid = pid_of(t.from_stage), tid = kTransferLaneTid + static_cast<int>(lane);
      emit_locked(dump(metadata("thread_name", pid, tid, {{"name", "transfers " + std::to_string(lane + 1)}})));
      emit_locked(dump(metadata("thread_sort_index", pid, tid, {{"sort_index", tid}})));
    }
  }
  lanes[lane] = std::max(lanes[lane], end);
  const int tid = lane == 0 ? kTransfersTid : kTransferLaneTid + static_cast<int>(lane);
  std::string name = t.gradient ? "grad " : "act ";
  name += std::to_string(t.minibatch);
  if (t.micro >= 0) name += "." + std::to_string(t.micro);
  name += " -> s" + std::to_string(t.to_stage);
  emit_locked(dump(Json{{"name", name},
                        {"cat", "transfer"},
                        {"ph", "X"},
                        {"pid", pid_of(t.from_stage)},
                        {"tid", tid},
                        {"ts", to_us(t.t_start_ns)},
                        {"dur", duration_us(t.t_start_ns, t.t_end_ns)},
                        {"args", {{"bytes", t.bytes}, {"minibatch", t.minibatch}, {"microbatch", t.micro}}}}));
}

// A global instant event: Perfetto draws it as a line across every track.
void TraceWriter::write_mark_locked(const RunMark& m) {
  name_process_locked(0);
  emit_locked(dump(Json{{"name", m.kind},
                        {"cat", "run"},
                        {"ph", "i"},
                        {"s", "g"},
                        {"pid", pid_of(0)},
                        {"tid", kComputeTid},
                        {"ts", to_us(m.t_ns)},
                        {"args", {{"step", m.step}, {"text", m.text}, {"before", m.before}, {"after", m.after}}}}));
}

void TraceWriter::note_flow_point_locked(const OpEvent& op) {
  if (op.minibatch <= flows_written_through_) return;  // too late: that arrow chain is on disk already
  open_flows_[op.minibatch].push_back(FlowPoint{to_us(op.t_start_ns), pid_of(op.stage)});
  while (open_flows_.size() > kMaxOpenFlows) {
    auto oldest = open_flows_.begin();
    write_flow_locked(oldest->first, std::move(oldest->second));
    open_flows_.erase(oldest);
  }
}

void TraceWriter::write_flows_through_locked(int last_minibatch) {
  while (!open_flows_.empty() && open_flows_.begin()->first <= last_minibatch) {
    auto first = open_flows_.begin();
    write_flow_locked(first->first, std::move(first->second));
    open_flows_.erase(first);
  }
}

// s on the first slice, t on the ones between, f on the last; each binds to the slice that starts at
// the same ts on the compute track (the enclosing slice), so the arrows run slice to slice.
void TraceWriter::write_flow_locked(int minibatch, std::vector<FlowPoint> points) {
  flows_written_through_ = std::max(flows_written_through_, minibatch);
  if (points.size() < 2) return;  // one slice: no arrow to draw
  std::stable_sort(points.begin(), points.end(),
                   [](const FlowPoint& a, const FlowPoint& b) { return a.ts_us < b.ts_us; });
  for (std::size_t i = 0; i < points.size(); ++i) {
    const bool last = i + 1 == points.size();
    Json e = {{"name", "minibatch"},  {"cat", "flow"},        {"ph", i == 0 ? "s" : (last ? "f" : "t")},
              {"id", minibatch + 1},  {"pid", points[i].pid}, {"tid", kComputeTid},
              {"ts", points[i].ts_us}};
    if (last) e["bp"] = "e";
    emit_locked(dump(e));
  }
}

void TraceWriter::emit_locked(const std::string& event_json) {
  if (!first_event_) buffer_ += ",\n";
  first_event_ = false;
  buffer_ += event_json;
}

void TraceWriter::write_buffer_locked() {
  if (buffer_.empty()) return;
  file_->append(buffer_);
  buffer_.clear();
}

}  // namespace ps
