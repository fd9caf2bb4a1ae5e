// The --out files: metrics.csv and ledger.csv parse back cell by cell, summary.json round-trips,
// absent and non-finite figures stay valid, and files are replaced atomically.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_support.h"
#include "engine/telemetry/outputs.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::filesystem::path fresh_dir(const std::string& name) { return test::fresh_dir("pipescope_outputs", name); }

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every line of the file split into cells; the file must end with a line break.
std::vector<std::vector<std::string>> read_csv(const fs::path& p) {
  const std::string text = read_text(p);
  EXPECT_TRUE(!text.empty() && text.back() == '\n') << "the file does not end with a whole line";
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> cells;
    std::size_t start = 0;
    while (true) {
      const std::size_t comma = line.find(',', start);
      cells.push_back(line.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    rows.push_back(cells);
  }
  return rows;
}

std::vector<std::string> split_header(const char* header) {
  std::vector<std::string> cells;
  std::istringstream s(header);
  std::string c;
  while (std::getline(s, c, ',')) cells.push_back(c);
  return cells;
}

StepMetrics step_metrics(std::int64_t step) {
  StepMetrics m;
  m.step = step;
  m.epoch = static_cast<int>(step / 3);
  m.samples = step * 64;
  m.train_loss = 2.5 / static_cast<double>(step);
  m.train_acc = 0.1 * static_cast<double>(step);
  m.lr = 0.05;
  m.samples_per_second = 1234.5;
  m.wall_seconds = 0.75 * static_cast<double>(step);
  return m;
}

TEST(MetricsCsv, StepAndEvaluationRowsParseBack) {
  const fs::path path = fresh_dir("metrics") / "metrics.csv";
  MetricsCsvWriter writer(path.string());
  EvalMetrics eval;
  eval.step = 2;
  eval.epoch = 0;
  eval.test_loss = 0.625;
  eval.test_accuracy = 0.8125;
  eval.wall_seconds = 1.6;
  writer.append({step_metrics(1), step_metrics(2), step_metrics(3)}, {eval});
  writer.append(TelemetryBatch{{}, {}, {step_metrics(4)}, {}, 0});

  const auto rows = read_csv(path);
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0], split_header(MetricsCsvWriter::header()));
  EXPECT_EQ(rows[0].size(), 10u);
  for (const auto& row : rows) EXPECT_EQ(row.size(), 10u);

  // Step rows in order, the evaluation right after step 2.
  const std::vector<std::string> steps_col = {rows[1][0], rows[2][0], rows[3][0], rows[4][0], rows[5][0]};
  EXPECT_EQ(steps_col, (std::vector<std::string>{"1", "2", "2", "3", "4"}));
  const auto& s3 = rows[4];
  const StepMetrics m3 = step_metrics(3);
  EXPECT_EQ(std::stoll(s3[1]), m3.epoch);
  EXPECT_EQ(std::stoll(s3[2]), m3.samples);
  EXPECT_EQ(std::stod(s3[3]), m3.train_loss);  // shortest round-trip text: exact
  EXPECT_EQ(std::stod(s3[4]), m3.train_acc);
  EXPECT_EQ(std::stod(s3[5]), m3.lr);
  EXPECT_EQ(std::stod(s3[6]), m3.samples_per_second);
  EXPECT_EQ(std::stod(s3[7]), m3.wall_seconds);
  EXPECT_EQ(s3[8], "");
  EXPECT_EQ(s3[9], "");

  const auto& e = rows[3];
  EXPECT_EQ(e[1], "0");
  for (int c = 2; c <= 6; ++c) EXPECT_EQ(e[c], "") << "column " << c;
  EXPECT_EQ(std::stod(e[7]), 1.6);
  EXPECT_EQ(std::stod(e[8]), 0.625);
  EXPECT_EQ(std::stod(e[9]), 0.8125);
}

TEST(MetricsCsv, NonFiniteNumbersKeepTheRowShape) {
  const fs::path path = fresh_dir("metrics_nan") / "metrics.csv";
  MetricsCsvWriter writer(path.string());
  StepMetrics m = step_metrics(1);
  m.train_loss = std::numeric_limits<double>::quiet_NaN();
  m.samples_per_second = std::numeric_limits<double>::infinity();
  m.lr = -std::numeric_limits<double>::infinity();
  writer.append({m}, {});
  const auto rows = read_csv(path);
  ASSERT_EQ(rows.size(), 2u);
  ASSERT_EQ(rows[1].size(), 10u);
  EXPECT_EQ(rows[1][3], "nan");
  EXPECT_EQ(rows[1][5], "-inf");
  EXPECT_EQ(rows[1][6], "inf");
  EXPECT_TRUE(std::isnan(std::stod(rows[1][3])));
}

TEST(MetricsCsv, UncreatableFileIsAnInputErrorNamingIt) {
  const std::string path = (fresh_dir("metrics_bad") / "no_such_dir" / "metrics.csv").string();
  try {
    MetricsCsvWriter writer(path);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), path);
  }
}

OpEvent ledger_op(OpKind kind, int minibatch) {
  OpEvent e;
  e.stage = 1;
  e.kind = kind;
  e.minibatch = minibatch;
  e.t_start_ns = 1234567;
  e.t_end_ns = 2000001;
  e.live_version = 5;
  e.basis_version = 3;
  e.target_version = 6;
  e.prediction_distance = 1.5;
  e.weight_copies = 3;
  e.weight_bytes = 1 << 20;
  return e;
}

TEST(LedgerCsv, ForwardAndBackwardRowsWithUnknownsLeftEmpty) {
  const fs::path path = fresh_dir("ledger") / "ledger.csv";
  LedgerCsvWriter writer(path.string());
  OpEvent f = ledger_op(OpKind::Forward, 6);
  f.loss = 0.5;
  OpEvent b = ledger_op(OpKind::Backward, 6);
  b.micro = 2;
  b.divergence = 0.03125;
  b.prediction_gain = 1.25;
  writer.append({f, ledger_op(OpKind::Update, 6), b});

  const auto rows = read_csv(path);
  ASSERT_EQ(rows.size(), 3u);  // header, F, B: the update is not a ledger row
  EXPECT_EQ(rows[0], split_header(LedgerCsvWriter::header()));
  for (const auto& row : rows) ASSERT_EQ(row.size(), 16u);

  const auto& fr = rows[1];
  EXPECT_EQ(fr[0], "1");
  EXPECT_EQ(fr[1], "6");
  EXPECT_EQ(fr[2], "");  // whole minibatch
  EXPECT_EQ(fr[3], "F");
  EXPECT_EQ(fr[4], "5");
  EXPECT_EQ(fr[5], "3");
  EXPECT_EQ(fr[6], "6");
  EXPECT_EQ(fr[7], "3");  // staleness = target - basis
  EXPECT_EQ(std::stod(fr[8]), 1.5);
  EXPECT_EQ(fr[9], "");   // divergence not known yet
  EXPECT_EQ(fr[10], "");  // prediction gain n/a
  EXPECT_EQ(fr[11], "3");
  EXPECT_EQ(fr[12], std::to_string(1 << 20));
  EXPECT_EQ(fr[13], "1234.567");
  EXPECT_EQ(fr[14], "2000.001");
  EXPECT_EQ(std::stod(fr[15]), 0.5);

  const auto& br = rows[2];
  EXPECT_EQ(br[2], "2");
  EXPECT_EQ(br[3], "B");
  EXPECT_EQ(std::stod(br[9]), 0.03125);
  EXPECT_EQ(std::stod(br[10]), 1.25);
  EXPECT_EQ(br[15], "");  // no loss on a backward
}

TEST(LedgerCsv, NanDivergenceIsWrittenNotHidden) {
  const fs::path path = fresh_dir("ledger_nan") / "ledger.csv";
  LedgerCsvWriter writer(path.string());
  OpEvent b = ledger_op(OpKind::Backward, 1);
  b.divergence = std::numeric_limits<double>::quiet_NaN();
  writer.append(TelemetryBatch{{b}, {}, {}, {}, 0});
  const auto rows = read_csv(path);
  ASSERT_EQ(rows.size(), 2u);
  ASSERT_EQ(rows[1].size(), 16u);
  EXPECT_EQ(rows[1][9], "nan");
}

RunSummary full_summary() {
  RunSummary s;
  s.status = RunStatus::Completed;
  s.model = "mlp-small";
  s.dataset = "fashion-mnist";
  s.schedule = "1f1b-async";
  s.strategy = "stash";
  s.stages = 2;
  s.microbatches = 4;
  s.steps = 1200;
  s.samples = 76800;
  s.final_train_loss = 0.3125;
  s.test_accuracy = 0.875;
  s.test_loss = 0.40625;
  s.samples_per_second = 5120.5;
  s.wall_seconds = 15.0;
  s.bubble_fraction_measured = 0.21;
  s.bubble_fraction_ideal = 0.2;
  s.weights_digest = "fnv1a:0123456789abcdef";
  for (int k = 0; k < 2; ++k) {
    StageSummary st;
    st.stage = k;
    st.device = "cpu:" + std::to_string(k);
    st.first_layer = 3 * k;
    st.last_layer = 3 * k + 2;
    st.params = 100000 + k;
    st.utilization = 0.75 + 0.125 * k;
    st.weight_copies_max = 2 - k;
    st.weight_bytes_max = (2 - k) * 400000;
    st.activation_bytes_max = 65536 * (k + 1);
    st.device_activation_bytes_max = 98304 * (k + 1);
    st.link_wait_seconds = 0.25 * (k + 1);
    st.bytes_sent = 4096 * (k + 1);
    st.messages_sent = 10 + k;
    if (k == 1) st.process = "rank 1, pid 42 on host";
    st.staleness_forward_mean = 1.0 - k;
    st.staleness_backward_mean = 0.0;
    st.inconsistency_mean = 0.0;
    st.divergence_mean = 0.0125;
    if (k == 0) st.prediction_gain_mean = 1.5;
    s.per_stage.push_back(st);
  }
  return s;
}

void expect_same(const RunSummary& a, const RunSummary& b) {
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.dataset, b.dataset);
  EXPECT_EQ(a.schedule, b.schedule);
  EXPECT_EQ(a.strategy, b.strategy);
  EXPECT_EQ(a.stages, b.stages);
  EXPECT_EQ(a.microbatches, b.microbatches);
  EXPECT_EQ(a.steps, b.steps);
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_EQ(a.final_train_loss, b.final_train_loss);
  EXPECT_EQ(a.test_accuracy, b.test_accuracy);
  EXPECT_EQ(a.test_loss, b.test_loss);
  EXPECT_EQ(a.samples_per_second, b.samples_per_second);
  EXPECT_EQ(a.wall_seconds, b.wall_seconds);
  EXPECT_EQ(a.bubble_fraction_measured, b.bubble_fraction_measured);
  EXPECT_EQ(a.bubble_fraction_ideal, b.bubble_fraction_ideal);
  EXPECT_EQ(a.weights_digest, b.weights_digest);
  ASSERT_EQ(a.per_stage.size(), b.per_stage.size());
  for (std::size_t k = 0; k < a.per_stage.size(); ++k) {
    const StageSummary &x = a.per_stage[k], &y = b.per_stage[k];
    EXPECT_EQ(x.stage, y.stage);
    EXPECT_EQ(x.device, y.device);
    EXPECT_EQ(x.first_layer, y.first_layer);
    EXPECT_EQ(x.last_layer, y.last_layer);
    EXPECT_EQ(x.params, y.params);
    EXPECT_EQ(x.utilization, y.utilization);
    EXPECT_EQ(x.weight_copies_max, y.weight_copies_max);
    EXPECT_EQ(x.weight_bytes_max, y.weight_bytes_max);
    EXPECT_EQ(x.activation_bytes_max, y.activation_bytes_max);
    EXPECT_EQ(x.device_activation_bytes_max, y.device_activation_bytes_max);
    EXPECT_EQ(x.link_wait_seconds, y.link_wait_seconds);
    EXPECT_EQ(x.bytes_sent, y.bytes_sent);
    EXPECT_EQ(x.messages_sent, y.messages_sent);
    EXPECT_EQ(x.process, y.process);
    EXPECT_EQ(x.staleness_forward_mean, y.staleness_forward_mean);
    EXPECT_EQ(x.staleness_backward_mean, y.staleness_backward_mean);
    EXPECT_EQ(x.inconsistency_mean, y.inconsistency_mean);
    EXPECT_EQ(x.divergence_mean, y.divergence_mean);
    EXPECT_EQ(x.prediction_gain_mean, y.prediction_gain_mean);
  }
}

TEST(SummaryJson, RoundTripsThroughTheFileWithNoTemporaryLeft) {
  const fs::path dir = fresh_dir("summary");
  const fs::path path = dir / "summary.json";
  const RunSummary written = full_summary();
  write_summary_json(path.string(), written);
  expect_same(read_summary_json(path.string()), written);
  EXPECT_FALSE(fs::exists(dir / "summary.json.tmp"));

  // Rewriting replaces the file whole.
  RunSummary second = written;
  second.status = RunStatus::Stopped;
  second.steps = 7;
  write_summary_json(path.string(), second);
  expect_same(read_summary_json(path.string()), second);
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) files += entry.is_regular_file();
  EXPECT_EQ(files, 1u);
}

TEST(SummaryJson, HasTheDocumentedKeysInOrder) {
  const std::string text = summary_to_json(full_summary());
  const Json j = Json::parse(text);
  const std::vector<std::string> expected = {"status",
                                             "model",
                                             "dataset",
                                             "schedule",
                                             "strategy",
                                             "stages",
                                             "chunks",
                                             "microbatches",
                                             "steps",
                                             "samples",
                                             "final_train_loss",
                                             "test_accuracy",
                                             "test_loss",
                                             "samples_per_second",
                                             "wall_seconds",
                                             "bubble_fraction_measured",
                                             "bubble_fraction_ideal",
                                             "weights_digest",
                                             "per_stage"};
  EXPECT_EQ(j.size(), expected.size());
  std::size_t previous = 0;
  for (const std::string& key : expected) {
    EXPECT_TRUE(j.contains(key)) << key;
    const std::size_t at = text.find("\"" + key + "\":");  // top-level keys all precede per_stage's
    ASSERT_NE(at, std::string::npos) << key;
    EXPECT_GE(at, previous) << key << " is out of order";
    previous = at;
  }
  EXPECT_EQ(j["status"], "completed");
  EXPECT_EQ(j["per_stage"][1]["device"], "cpu:1");
  const std::vector<std::string> stage_keys = {"stage",
                                               "device",
                                               "first_layer",
                                               "last_layer",
                                               "params",
                                               "utilization",
                                               "weight_copies_max",
                                               "weight_bytes_max",
                                               "activation_bytes_max",
                                               "device_activation_bytes_max",
                                               "link_wait_seconds",
                                               "bytes_sent",
                                               "messages_sent",
                                               "staleness_forward_mean",
                                               "staleness_backward_mean",
                                               "inconsistency_mean",
                                               "divergence_mean",
                                               "prediction_gain_mean"};
  EXPECT_EQ(j["per_stage"][0].size(), stage_keys.size()) << "\"process\" only in a processes run";
  for (const std::string& key : stage_keys) EXPECT_TRUE(j["per_stage"][0].contains(key)) << key;
}

TEST(SummaryJson, AbsentFiguresAreNullAndErrorOnlyWhenSet) {
  RunSummary s = full_summary();
  s.test_accuracy.reset();
  s.test_loss.reset();
  s.per_stage[1].divergence_mean.reset();
  Json j = Json::parse(summary_to_json(s));
  EXPECT_TRUE(j["test_accuracy"].is_null());
  EXPECT_TRUE(j["test_loss"].is_null());
  EXPECT_TRUE(j["per_stage"][1]["divergence_mean"].is_null());
  EXPECT_TRUE(j["per_stage"][1]["prediction_gain_mean"].is_null());
  EXPECT_FALSE(j.contains("error"));
  const RunSummary back = summary_from_json(j.dump(), "inline");
  EXPECT_FALSE(back.test_accuracy.has_value());
  EXPECT_FALSE(back.per_stage[1].divergence_mean.has_value());
  EXPECT_EQ(back.per_stage[0].prediction_gain_mean, 1.5);

  s.status = RunStatus::Failed;
  s.error = "stage 1, op B4, minibatch 4: out of memory";
  j = Json::parse(summary_to_json(s));
  EXPECT_EQ(j["status"], "failed");
  EXPECT_EQ(j["error"], s.error);
  EXPECT_EQ(summary_from_json(j.dump(), "inline").error, s.error);
}

TEST(SummaryJson, NonFiniteNumbersBecomeNullAndReadBackAsNan) {
  RunSummary s = full_summary();
  s.status = RunStatus::Diverged;
  s.final_train_loss = std::numeric_limits<double>::quiet_NaN();
  s.samples_per_second = std::numeric_limits<double>::infinity();
  s.per_stage[0].divergence_mean = std::numeric_limits<double>::infinity();
  const std::string text = summary_to_json(s);
  const Json j = Json::parse(text);  // must be valid JSON: no bare NaN / Infinity
  EXPECT_TRUE(j["final_train_loss"].is_null());
  EXPECT_TRUE(j["samples_per_second"].is_null());
  const RunSummary back = summary_from_json(text, "inline");
  EXPECT_EQ(back.status, RunStatus::Diverged);
  EXPECT_TRUE(std::isnan(back.final_train_loss));
  EXPECT_TRUE(std::isnan(back.samples_per_second));
  EXPECT_FALSE(back.per_stage[0].divergence_mean.has_value());
}

TEST(SummaryJson, ReadErrorsNameTheFileAndTheField) {
  const fs::path dir = fresh_dir("summary_bad");
  const std::string missing = (dir / "none.json").string();
  try {
    read_summary_json(missing);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), missing);
  }

  Json j = Json::parse(summary_to_json(full_summary()));
  j["per_stage"][1]["device"] = 3;
  const fs::path bad_type = dir / "bad_type.json";
  std::ofstream(bad_type) << j.dump();
  try {
    read_summary_json(bad_type.string());
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), bad_type.string());
    EXPECT_EQ(e.field(), "per_stage[1].device");
  }

  j = Json::parse(summary_to_json(full_summary()));
  j["status"] = "exploded";
  try {
    summary_from_json(j.dump(), "x.json");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "status");
  }
  j.erase("status");
  try {
    summary_from_json(j.dump(), "x.json");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "status");
    EXPECT_EQ(e.reason(), "missing");
  }
  EXPECT_THROW(summary_from_json("{\"status\": ", "x.json"), InputError);
}

TEST(SummaryJson, UnwritableDirectoryIsAnInputErrorAndLeavesNoTemporary) {
  const fs::path dir = fresh_dir("summary_unwritable");
  const std::string path = (dir / "missing" / "summary.json").string();
  EXPECT_THROW(write_summary_json(path, full_summary()), InputError);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(RunStatusText, EveryStatusRoundTrips) {
  const std::vector<std::pair<RunStatus, std::string>> all = {
      {RunStatus::Idle, "idle"},           {RunStatus::Running, "running"}, {RunStatus::Paused, "paused"},
      {RunStatus::Completed, "completed"}, {RunStatus::Stopped, "stopped"}, {RunStatus::Diverged, "diverged"},
      {RunStatus::Failed, "failed"}};
  for (const auto& [status, text] : all) {
    EXPECT_EQ(to_string(status), text);
    EXPECT_EQ(parse_run_status(text), status);
  }
  EXPECT_FALSE(parse_run_status("done").has_value());
}

}  // namespace
}  // namespace ps
