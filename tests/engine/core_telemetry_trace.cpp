// TraceWriter: a small synthetic two-stage run, written and parsed back, checked against the Trace
// Event Format (metadata, complete events, flows, counters) and the atomic-rename contract.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "test_support.h"
#include "engine/telemetry/trace_writer.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::filesystem::path fresh_dir(const std::string& name) { return test::fresh_dir("pipescope_trace", name); }

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

OpEvent op(int stage, OpKind kind, int minibatch, double start_us, double end_us, int basis, int copies = 1) {
  OpEvent e;
  e.stage = stage;
  e.kind = kind;
  e.minibatch = minibatch;
  e.t_start_ns = static_cast<std::int64_t>(start_us * 1000);
  e.t_end_ns = static_cast<std::int64_t>(end_us * 1000);
  e.live_version = basis;
  e.basis_version = basis;
  e.target_version = minibatch;
  e.weight_copies = copies;
  return e;
}

TransferEvent transfer(int from, int to, bool gradient, int minibatch, double start_us, double end_us) {
  TransferEvent t;
  t.from_stage = from;
  t.to_stage = to;
  t.gradient = gradient;
  t.minibatch = minibatch;
  t.t_start_ns = static_cast<std::int64_t>(start_us * 1000);
  t.t_end_ns = static_cast<std::int64_t>(end_us * 1000);
  t.bytes = 4096 + minibatch;
  return t;
}

// Async 1F1B on two stages, three minibatches, as two drains: stage 0's events, then stage 1's
// (so the file is not in time order, as with real per-stage rings).
std::vector<TelemetryBatch> synthetic_run() {
  TelemetryBatch s0, s1;
  s0.ops = {op(0, OpKind::Forward, 0, 0, 10, 0, 2),   op(0, OpKind::Forward, 1, 10, 20, 0, 3),
            op(0, OpKind::Backward, 0, 40, 55, 0, 3), op(0, OpKind::Update, 0, 55, 57, 0, 2),
            op(0, OpKind::Forward, 2, 57, 67, 1, 3),  op(0, OpKind::Backward, 1, 80, 95, 0, 2),
            op(0, OpKind::Update, 1, 95, 97, 1, 2),   op(0, OpKind::Backward, 2, 110, 125, 1, 1),
            op(0, OpKind::Update, 2, 125, 127, 2, 1)};
  s0.transfers = {transfer(0, 1, false, 0, 10, 12), transfer(0, 1, false, 1, 20, 22), transfer(0, 1, false, 2, 67, 69)};
  s1.ops = {
      op(1, OpKind::Forward, 0, 12, 22, 0), op(1, OpKind::Backward, 0, 22, 37, 0), op(1, OpKind::Update, 0, 37, 39, 0),
      op(1, OpKind::Forward, 1, 39, 49, 1), op(1, OpKind::Backward, 1, 49, 64, 1), op(1, OpKind::Update, 1, 64, 66, 1),
      op(1, OpKind::Forward, 2, 69, 79, 2), op(1, OpKind::Backward, 2, 79, 94, 2), op(1, OpKind::Update, 2, 94, 96, 2)};
  for (OpEvent& e : s1.ops)
    if (e.kind == OpKind::Forward) e.loss = 2.0 - 0.25 * e.minibatch;
  s1.transfers = {transfer(1, 0, true, 0, 37, 40), transfer(1, 0, true, 1, 64, 80), transfer(1, 0, true, 2, 94, 110)};
  return {s0, s1};
}

Json write_and_parse(const fs::path& path, const std::vector<TelemetryBatch>& batches) {
  {
    TraceWriter writer(path.string(), {"cpu:0", "cpu:1"});
    for (const TelemetryBatch& b : batches) writer.add(b);
    writer.finish();
  }
  return Json::parse(read_text(path));
}

std::vector<Json> events_where(const Json& trace, const std::function<bool(const Json&)>& pred) {
  std::vector<Json> out;
  for (const Json& e : trace["traceEvents"])
    if (pred(e)) out.push_back(e);
  return out;
}

const Json* slice_named(const Json& trace, const std::string& name, int pid) {
  for (const Json& e : trace["traceEvents"])
    if (e["ph"] == "X" && e["name"] == name && e["pid"] == pid) return &e;
  return nullptr;
}

TEST(TraceWriter, FileAppearsUnderItsNameOnlyAfterFinish) {
  const fs::path dir = fresh_dir("rename");
  const fs::path path = dir / "run.trace.json";
  TraceWriter writer(path.string(), {"cpu:0", "cpu:1"});
  for (const TelemetryBatch& b : synthetic_run()) writer.add(b);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(fs::exists(writer.partial_path()));
  EXPECT_THROW(Json::parse(read_text(writer.partial_path())), Json::parse_error);  // still open

  writer.finish();
  EXPECT_TRUE(writer.finished());
  EXPECT_TRUE(fs::exists(path));
  EXPECT_FALSE(fs::exists(writer.partial_path()));
  const Json trace = Json::parse(read_text(path));
  EXPECT_TRUE(trace["traceEvents"].is_array());

  writer.add(op(0, OpKind::Forward, 9, 500, 510, 0));  // after finish: ignored, file untouched
  writer.finish();                                     // idempotent
  EXPECT_EQ(Json::parse(read_text(path)), trace);
}

TEST(TraceWriter, DestructorFinishesTheFile) {
  const fs::path path = fresh_dir("dtor") / "t.json";
  {
    TraceWriter writer(path.string(), {"cpu:0"});
    writer.add(op(0, OpKind::Forward, 0, 0, 5, 0));
  }
  ASSERT_TRUE(fs::exists(path));
  EXPECT_FALSE(Json::parse(read_text(path))["traceEvents"].empty());
}

TEST(TraceWriter, UnwritablePathIsAnInputErrorNamingTheFile) {
  const std::string path = (fresh_dir("bad") / "missing_dir" / "t.json").string();
  try {
    TraceWriter writer(path, {"cpu:0"});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), path);
    EXPECT_FALSE(e.reason().empty());
  }
}

TEST(TraceWriter, EveryEventIsWellFormedAndEveryTrackIsNamed) {
  const Json trace = write_and_parse(fresh_dir("format") / "t.json", synthetic_run());
  std::map<int, std::string> process_names;
  std::set<std::pair<int, int>> named_threads;
  for (const Json& e : trace["traceEvents"]) {
    ASSERT_TRUE(e.contains("ph") && e["ph"].is_string()) << e;
    if (e["ph"] != "M") continue;
    ASSERT_TRUE(e["pid"].is_number_integer()) << e;
    if (e["name"] == "process_name") process_names[e["pid"].get<int>()] = e["args"]["name"];
    if (e["name"] == "thread_name") named_threads.insert({e["pid"].get<int>(), e["tid"].get<int>()});
  }
  EXPECT_EQ(process_names, (std::map<int, std::string>{{1, "stage 0 (cpu:0)"}, {2, "stage 1 (cpu:1)"}}));

  std::size_t checked = 0;
  for (const Json& e : trace["traceEvents"]) {
    if (e["ph"] == "M") continue;
    ASSERT_TRUE(e["pid"].is_number_integer() && e["tid"].is_number_integer() && e["ts"].is_number()) << e;
    EXPECT_TRUE(e["name"].is_string()) << e;
    EXPECT_EQ(process_names.count(e["pid"]), 1u) << e;
    EXPECT_EQ(named_threads.count({e["pid"].get<int>(), e["tid"].get<int>()}), 1u) << e;
    if (e["ph"] == "X") {
      EXPECT_GE(e["dur"].get<double>(), 0.0) << e;
    }
    ++checked;
  }
  // 18 ops + 6 transfers at least; counters and flows on top.
  EXPECT_GT(checked, 24u);
}

TEST(TraceWriter, OpSlicesCarryTheirVersionsOnTheComputeTrack) {
  auto run = synthetic_run();
  OpEvent micro = op(1, OpKind::Backward, 3, 200, 210, 1);
  micro.micro = 1;
  micro.divergence = 0.125;
  run[1].ops.push_back(micro);
  const Json trace = write_and_parse(fresh_dir("slices") / "t.json", run);

  const Json* f1 = slice_named(trace, "F1", 2);
  ASSERT_NE(f1, nullptr);
  EXPECT_EQ((*f1)["cat"], "forward");
  EXPECT_EQ((*f1)["tid"], 1);
  EXPECT_DOUBLE_EQ((*f1)["ts"].get<double>(), 39.0);
  EXPECT_DOUBLE_EQ((*f1)["dur"].get<double>(), 10.0);
  const Json& args = (*f1)["args"];
  EXPECT_EQ(args["minibatch"], 1);
  EXPECT_EQ(args["microbatch"], -1);
  EXPECT_EQ(args["stage"], 1);
  EXPECT_EQ(args["basis_version"], 1);
  EXPECT_EQ(args["target_version"], 1);
  EXPECT_EQ(args["staleness"], 0);
  EXPECT_DOUBLE_EQ(args["loss"].get<double>(), 1.75);

  const Json* f2_stage0 = slice_named(trace, "F2", 1);
  ASSERT_NE(f2_stage0, nullptr);
  EXPECT_EQ((*f2_stage0)["args"]["staleness"], 1);  // target 2, basis 1
  EXPECT_FALSE((*f2_stage0)["args"].contains("loss"));

  const Json* u0 = slice_named(trace, "U0", 1);
  ASSERT_NE(u0, nullptr);
  EXPECT_EQ((*u0)["cat"], "update");

  const Json* b_micro = slice_named(trace, "B3.1", 2);
  ASSERT_NE(b_micro, nullptr);
  EXPECT_EQ((*b_micro)["cat"], "backward");
  EXPECT_EQ((*b_micro)["args"]["microbatch"], 1);
  EXPECT_DOUBLE_EQ((*b_micro)["args"]["divergence"].get<double>(), 0.125);
}

TEST(TraceWriter, TransfersSitOnTheSendersTransferTrack) {
  const Json trace = write_and_parse(fresh_dir("transfers") / "t.json", synthetic_run());
  const Json* act = slice_named(trace, "act 1 -> s1", 1);
  ASSERT_NE(act, nullptr);
  EXPECT_EQ((*act)["tid"], 2);
  EXPECT_EQ((*act)["args"]["bytes"], 4097);
  EXPECT_DOUBLE_EQ((*act)["ts"].get<double>(), 20.0);
  const Json* grad = slice_named(trace, "grad 2 -> s0", 2);
  ASSERT_NE(grad, nullptr);
  EXPECT_EQ((*grad)["tid"], 2);
  EXPECT_DOUBLE_EQ((*grad)["dur"].get<double>(), 16.0);
}

// Messages queue in a channel, so one sender's transfers overlap in time; slices on one track must nest
// (Perfetto rejects overlapping X events), so overlapping transfers go to further transfer tracks.
TEST(TraceWriter, OverlappingTransfersGoToSeparateTracksThatNeverOverlap) {
  TelemetryBatch b;
  b.ops = {op(0, OpKind::Forward, 0, 0, 10, 0)};
  b.transfers = {transfer(0, 1, false, 0, 10, 50), transfer(0, 1, false, 1, 20, 60), transfer(0, 1, false, 2, 30, 40),
                 transfer(0, 1, false, 3, 55, 70)};
  const fs::path path = fresh_dir("overlap") / "t.json";
  {
    TraceWriter writer(path.string(), {"cpu:0", "cpu:1"});
    writer.add(b);
    writer.finish();
  }
  const Json trace = Json::parse(read_text(path));
  std::map<int, std::vector<std::pair<double, double>>> by_tid;
  for (const Json& e : trace["traceEvents"])
    if (e["ph"] == "X" && e["cat"] == "transfer") {
      const double ts = e["ts"].get<double>();
      by_tid[e["tid"].get<int>()].push_back({ts, ts + e["dur"].get<double>()});
    }
  EXPECT_EQ(by_tid.size(), 3u);  // 10-50, 20-60 and 30-40 all overlap; 55-70 fits after 10-50
  EXPECT_EQ(by_tid[2].size(), 2u);
  for (auto& [tid, slices] : by_tid) {
    std::sort(slices.begin(), slices.end());
    for (std::size_t i = 1; i < slices.size(); ++i) EXPECT_LE(slices[i - 1].second, slices[i].first) << "tid " << tid;
    bool named = false;
    for (const Json& e : trace["traceEvents"])
      named |= e["ph"] == "M" && e["name"] == "thread_name" && e["pid"] == 1 && e["tid"] == tid;
    EXPECT_TRUE(named) << "tid " << tid << " has no name";
  }
}

TEST(TraceWriter, FlowsFollowEachMinibatchAcrossStagesInTimeOrder) {
  const Json trace = write_and_parse(fresh_dir("flows") / "t.json", synthetic_run());
  std::map<int, std::vector<Json>> flows;
  for (const Json& e : trace["traceEvents"]) {
    const std::string ph = e["ph"];
    if (ph == "s" || ph == "t" || ph == "f") flows[e["id"]].push_back(e);
  }
  ASSERT_EQ(flows.size(), 3u);  // one per minibatch
  for (auto& [id, points] : flows) {
    // F at stage 0, F at stage 1, B at stage 1, B at stage 0.
    ASSERT_EQ(points.size(), 4u) << "flow " << id;
    EXPECT_EQ(points.front()["ph"], "s");
    EXPECT_EQ(points.back()["ph"], "f");
    EXPECT_EQ(points.back()["bp"], "e");
    for (std::size_t i = 1; i + 1 < points.size(); ++i) EXPECT_EQ(points[i]["ph"], "t");
    const std::vector<int> expected_pids = {1, 2, 2, 1};
    for (std::size_t i = 0; i < points.size(); ++i) {
      EXPECT_EQ(points[i]["pid"], expected_pids[i]) << "flow " << id << " point " << i;
      EXPECT_EQ(points[i]["cat"], points[0]["cat"]);  // viewers key v1 flows by (cat, name, id)
      EXPECT_EQ(points[i]["name"], points[0]["name"]);
      if (i > 0) {
        EXPECT_LE(points[i - 1]["ts"].get<double>(), points[i]["ts"].get<double>());
      }
      // Bound to the enclosing slice: a compute slice of this minibatch starts right there.
      bool bound = false;
      for (const Json& x : trace["traceEvents"])
        bound |= x["ph"] == "X" && x["tid"] == 1 && x["pid"] == points[i]["pid"] && x["ts"] == points[i]["ts"] &&
                 x["args"]["minibatch"] == id - 1;
      EXPECT_TRUE(bound) << points[i];
    }
  }
}

TEST(TraceWriter, SettledFlowsAreWrittenWhileTheRunGoesAndLateEventsDoNotReopenThem) {
  const fs::path path = fresh_dir("streaming") / "t.json";
  TraceWriter writer(path.string(), {"cpu:0", "cpu:1"});
  auto run = synthetic_run();
  writer.add(run[0]);  // stage 0's U2 settles minibatch 0 (two stages past it)...
  // ...but stage 1's events for it may come a batch later: its flow waits for one more batch.
  EXPECT_EQ(read_text(writer.partial_path()).find("\"ph\":\"f\""), std::string::npos);
  writer.add(run[1]);
  EXPECT_NE(read_text(writer.partial_path()).find("\"ph\":\"f\""), std::string::npos);

  writer.add(op(1, OpKind::Backward, 0, 300, 310, 0));  // a straggler of minibatch 0
  writer.finish();
  const Json trace = Json::parse(read_text(path));
  std::map<std::string, int> first_flow_phases;
  for (const Json& e : trace["traceEvents"])
    if (e.contains("id") && e["id"] == 1) ++first_flow_phases[e["ph"].get<std::string>()];
  // Complete (both stages' F and B), and the straggler added no second chain.
  EXPECT_EQ(first_flow_phases, (std::map<std::string, int>{{"s", 1}, {"t", 2}, {"f", 1}}));
}

TEST(TraceWriter, CountersTrackStalenessAndWeightCopyChanges) {
  const Json trace = write_and_parse(fresh_dir("counters") / "t.json", synthetic_run());
  const auto staleness = events_where(trace, [](const Json& e) { return e["ph"] == "C" && e["name"] == "staleness"; });
  int forward = 0, backward = 0;
  for (const Json& c : staleness) {
    if (c["args"].contains("forward")) ++forward;
    if (c["args"].contains("backward")) ++backward;
  }
  EXPECT_EQ(forward, 6);
  EXPECT_EQ(backward, 6);
  const auto f2 = events_where(trace, [](const Json& e) {
    return e["ph"] == "C" && e["name"] == "staleness" && e["pid"] == 1 && e["ts"] == 57.0;
  });
  ASSERT_EQ(f2.size(), 1u);
  EXPECT_EQ(f2[0]["args"]["forward"], 1);

  // Stage 0 holds 2,3,3,2,3,2,2,1,1 copies: written only where the count changes.
  std::vector<int> copies;
  for (const Json& c :
       events_where(trace, [](const Json& e) { return e["ph"] == "C" && e["name"] == "weight copies"; }))
    if (c["pid"] == 1) copies.push_back(c["args"]["copies"]);
  EXPECT_EQ(copies, (std::vector<int>{2, 3, 2, 3, 2, 1}));
  std::size_t stage1_copies = 0;
  for (const Json& c :
       events_where(trace, [](const Json& e) { return e["ph"] == "C" && e["name"] == "weight copies"; }))
    stage1_copies += c["pid"] == 2;
  EXPECT_EQ(stage1_copies, 1u);  // constant at 1
}

}  // namespace
}  // namespace ps
