// Presets: round trip, every class of input error (file, field path, reason), overrides, shipped presets.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include "engine/config/run_config.h"
#include "engine/models/model_info.h"
#include "engine/strategy/strategy_info.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

const std::string kSource = "presets/x.json";

// A minimal preset with `extra` spliced in as further top-level members.
std::string preset(const std::string& extra = "") {
  return R"({"model": {"name": "mlp"}, "dataset": {"name": "spirals"})" + (extra.empty() ? "" : ", " + extra) + "}";
}

// Runs `action`, expects an InputError and returns it.
InputError input_error(const std::function<void()>& action) {
  try {
    action();
  } catch (const InputError& e) {
    return e;
  }
  ADD_FAILURE() << "expected an InputError";
  return InputError("", "", "");
}

void expect_error(const std::string& extra, const std::string& field, const std::string& reason_fragment) {
  const InputError e = input_error([&] { parse_preset(preset(extra), kSource); });
  EXPECT_EQ(e.file(), kSource) << extra;
  EXPECT_EQ(e.field(), field) << extra;
  EXPECT_NE(e.reason().find(reason_fragment), std::string::npos)
      << extra << "\n  reason: " << e.reason() << "\n  expected to contain: " << reason_fragment;
}

void expect_same(const RunConfig& a, const RunConfig& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.model.name, b.model.name);
  EXPECT_EQ(a.model.hidden, b.model.hidden);
  EXPECT_EQ(a.model.width, b.model.width);
  EXPECT_EQ(a.model.depth, b.model.depth);
  EXPECT_EQ(a.dataset.name, b.dataset.name);
  EXPECT_EQ(a.dataset.path, b.dataset.path);
  EXPECT_EQ(a.dataset.train_limit, b.dataset.train_limit);
  EXPECT_EQ(a.dataset.test_limit, b.dataset.test_limit);
  EXPECT_EQ(a.dataset.synthetic_size, b.dataset.synthetic_size);
  EXPECT_EQ(a.dataset.test_fraction, b.dataset.test_fraction);
  EXPECT_EQ(a.dataset.normalize, b.dataset.normalize);
  EXPECT_EQ(a.optimizer.name, b.optimizer.name);
  EXPECT_EQ(a.optimizer.lr, b.optimizer.lr);
  EXPECT_EQ(a.optimizer.momentum, b.optimizer.momentum);
  EXPECT_EQ(a.optimizer.weight_decay, b.optimizer.weight_decay);
  EXPECT_EQ(a.optimizer.nesterov, b.optimizer.nesterov);
  EXPECT_EQ(a.optimizer.beta1, b.optimizer.beta1);
  EXPECT_EQ(a.optimizer.beta2, b.optimizer.beta2);
  EXPECT_EQ(a.optimizer.eps, b.optimizer.eps);
  EXPECT_EQ(a.lr_schedule.name, b.lr_schedule.name);
  EXPECT_EQ(a.lr_schedule.warmup_steps, b.lr_schedule.warmup_steps);
  EXPECT_EQ(a.lr_schedule.step_size, b.lr_schedule.step_size);
  EXPECT_EQ(a.lr_schedule.gamma, b.lr_schedule.gamma);
  EXPECT_EQ(a.lr_schedule.min_lr, b.lr_schedule.min_lr);
  EXPECT_EQ(a.batch_size, b.batch_size);
  EXPECT_EQ(a.microbatches, b.microbatches);
  EXPECT_EQ(a.epochs, b.epochs);
  EXPECT_EQ(a.steps, b.steps);
  EXPECT_EQ(a.stages, b.stages);
  EXPECT_EQ(a.partition, b.partition);
  EXPECT_EQ(a.device, b.device);
  EXPECT_EQ(a.stage_devices, b.stage_devices);
  EXPECT_EQ(a.schedule, b.schedule);
  EXPECT_EQ(a.strategy.name, b.strategy.name);
  EXPECT_EQ(a.strategy.params, b.strategy.params);
  EXPECT_EQ(a.executor, b.executor);
  EXPECT_EQ(a.threads_per_stage, b.threads_per_stage);
  EXPECT_EQ(a.processes_spin_microseconds, b.processes_spin_microseconds);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.eval_every_epochs, b.eval_every_epochs);
  EXPECT_EQ(a.telemetry, b.telemetry);
}

// Every field away from its default (values like 0.1 that binary floating point cannot hold exactly).
RunConfig unusual_config() {
  RunConfig c;
  c.name = "round trip";
  c.description = "a \"quoted\" line\nand a second one";
  c.model = {"mlp", {7, 5}, 12, 3};
  c.dataset = {"blobs", "/tmp/some dir", 100, 50, 999, 0.3, false};
  c.optimizer = {"sgd", 0.1, 0.85, 1e-4, true, 0.8, 0.95, 1e-7};
  c.lr_schedule = {"cosine", 5, 7, 0.3, 1e-3};
  c.batch_size = 48;
  c.microbatches = 4;
  c.epochs = 3;
  c.steps = 17;
  c.stages = 3;
  c.partition = {2, 3};
  c.device = "cuda";
  c.stage_devices = {"cpu", "cuda:0", "cuda:1"};
  c.schedule = "gpipe";
  c.strategy.name = "stash";
  c.executor = "sequential";
  c.threads_per_stage = 2;
  c.processes_spin_microseconds = 250;
  c.seed = 12345678901234567890ULL;  // beyond int64
  c.eval_every_epochs = 2;
  c.telemetry = false;
  return c;
}

TEST(RunConfig, RoundTripKeepsEveryField) {
  const RunConfig original = unusual_config();
  ASSERT_NO_THROW(validate(original));
  const RunConfig copy = parse_preset(preset_to_json(original), kSource);
  expect_same(copy, original);
  EXPECT_EQ(copy.source, kSource);
}

TEST(RunConfig, RoundTripKeepsStrategyParams) {
  const StrategyInfo* with_params = nullptr;
  for (const auto& s : strategy_catalog())
    if (s.implemented && !s.params.empty() && !with_params) with_params = &s;
  if (!with_params) GTEST_SKIP() << "no implemented strategy takes parameters yet";
  RunConfig c;
  c.strategy.name = with_params->name;
  for (const auto& p : with_params->params) c.strategy.params[p.key] = p.default_value;
  expect_same(parse_preset(preset_to_json(c), kSource), c);
}

TEST(RunConfig, StrategyParamsAreWrittenWithTheirJsonType) {
  RunConfig c;
  c.strategy = {"i-timeprest", {{"lambda", "0.25"}, {"significance", "inverse"}, {"odd", "0.50"}}};
  const std::string json = preset_to_json(c);
  EXPECT_NE(json.find("\"lambda\": 0.25"), std::string::npos) << json;
  EXPECT_NE(json.find("\"significance\": \"inverse\""), std::string::npos) << json;
  // "0.50" would read back as "0.5": it stays a string so the text survives.
  EXPECT_NE(json.find("\"odd\": \"0.50\""), std::string::npos) << json;
}

TEST(RunConfig, MinimalPresetTakesTheStructDefaults) {
  RunConfig expected;
  expected.dataset.name = "spirals";
  expect_same(parse_preset(preset(), kSource), expected);
}

TEST(RunConfig, DefaultConfigIsValid) { EXPECT_NO_THROW(validate(RunConfig{})); }

TEST(RunConfig, PartitionWinsOverStagesInCode) {
  RunConfig c;
  c.stages = 4;
  c.partition = {2, 4};
  EXPECT_NO_THROW(validate(c));
  EXPECT_EQ(parse_preset(preset_to_json(c), kSource).stages, 3);
}

TEST(RunConfig, IntegralFloatIsAcceptedForIntegers) {
  EXPECT_EQ(parse_preset(preset(R"("steps": 1e3)"), kSource).steps, 1000);
}

TEST(RunConfigErrors, ModelAndDatasetAreRequired) {
  EXPECT_EQ(input_error([] { parse_preset(R"({"dataset": {"name": "blobs"}})", kSource); }).field(), "model");
  EXPECT_EQ(input_error([] { parse_preset(R"({"model": {"name": "mlp"}})", kSource); }).field(), "dataset");
  const InputError e = input_error([] { parse_preset(R"({"model": {}, "dataset": {"name": "blobs"}})", kSource); });
  EXPECT_EQ(e.field(), "model.name");
}

TEST(RunConfigErrors, MalformedJsonGivesLineAndColumn) {
  const std::string text = "{\n  \"model\": {\"name\": \"mlp\"},\n  \"epochs\": @\n}\n";
  const InputError e = input_error([&] { parse_preset(text, kSource); });
  EXPECT_EQ(e.file(), kSource);
  EXPECT_EQ(e.field(), "");
  EXPECT_NE(e.reason().find("malformed JSON at line 3, column 13"), std::string::npos) << e.reason();
}

TEST(RunConfigErrors, TopLevelMustBeAnObject) {
  const InputError e = input_error([] { parse_preset("[1, 2]", kSource); });
  EXPECT_NE(e.reason().find("expected a JSON object at the top level, got an array"), std::string::npos);
}

TEST(RunConfigErrors, UnknownKeysSuggestTheNearest) {
  expect_error(R"("epoch": 2)", "epoch", "unknown key 'epoch'; did you mean 'epochs'?");
  expect_error(R"("optimizer": {"lrr": 0.1})", "optimizer.lrr", "did you mean 'lr'?");
  expect_error(R"("lr_schedule": {"warmup": 3})", "lr_schedule.warmup", "did you mean 'warmup_steps'?");
  expect_error(R"("strategy": {"nmae": "stash"})", "strategy.nmae", "did you mean 'name'?");
  expect_error(R"("lr": 0.1)", "lr", "did you mean 'optimizer.lr' (inside \"optimizer\")?");
  // Nothing close: no guess, but the known keys.
  const InputError e = input_error([] { parse_preset(preset(R"("colourful": 1)"), kSource); });
  EXPECT_EQ(e.reason().find("did you mean"), std::string::npos) << e.reason();
  EXPECT_NE(e.reason().find("known: name, description, model, dataset"), std::string::npos) << e.reason();
}

TEST(RunConfigErrors, WrongTypes) {
  expect_error(R"("optimizer": {"lr": "0.1"})", "optimizer.lr", "expected a number, got a string (\"0.1\")");
  expect_error(R"("batch_size": 2.5)", "batch_size", "expected an integer, got 2.5");
  expect_error(R"("batch_size": 1e10)", "batch_size", "out of range");
  expect_error(R"("telemetry": "yes")", "telemetry", "expected true or false, got a string");
  expect_error(R"("model": {"name": "mlp", "hidden": [32, "x"]})", "model.hidden[1]", "expected an integer");
  expect_error(R"("partition": 3)", "partition", "expected an array, got a number (3)");
  expect_error(R"("optimizer": 3)", "optimizer", "expected an object, got a number");
  expect_error(R"("seed": -1)", "seed", "expected a non-negative integer, got -1");
  expect_error(R"("schedule": null)", "schedule", "expected a string, got null");
  expect_error(R"("strategy": {"name": "stash", "params": {"k": [1]}})", "strategy.params.k",
               "expected a number, a string or true/false, got an array");
}

TEST(RunConfigErrors, OutOfRangeValues) {
  expect_error(R"("optimizer": {"lr": 0})", "optimizer.lr", "must be greater than 0, got 0");
  expect_error(R"("optimizer": {"momentum": 1})", "optimizer.momentum", "must be in [0, 1), got 1");
  expect_error(R"("optimizer": {"eps": -1e-8})", "optimizer.eps", "must be greater than 0");
  expect_error(R"("optimizer": {"weight_decay": -0.5})", "optimizer.weight_decay", "must be at least 0, got -0.5");
  expect_error(R"("batch_size": 0)", "batch_size", "must be at least 1, got 0");
  expect_error(R"("microbatches": 0)", "microbatches", "must be at least 1, got 0");
  expect_error(R"("epochs": 0)", "epochs", "must be at least 1, got 0");
  expect_error(R"("steps": -1)", "steps", "must be at least 0, got -1");
  expect_error(R"("stages": 0)", "stages", "must be at least 1, got 0");
  expect_error(R"("threads_per_stage": 0)", "threads_per_stage", "must be at least 1, got 0");
  expect_error(R"("processes": {"spin_microseconds": -1})", "processes.spin_microseconds", "must be at least 0, got -1");
  expect_error(R"("eval_every_epochs": 0)", "eval_every_epochs", "must be at least 1");
  expect_error(R"("dataset": {"name": "blobs", "test_fraction": 1})", "dataset.test_fraction",
               "must be in (0, 1), got 1");
  expect_error(R"("dataset": {"name": "blobs", "test_fraction": 0})", "dataset.test_fraction", "must be in (0, 1)");
  expect_error(R"("model": {"name": "mlp", "hidden": [32, 0]})", "model.hidden[1]", "must be at least 1, got 0");
  expect_error(R"("lr_schedule": {"step_size": 0})", "lr_schedule.step_size", "must be at least 1");
  expect_error(R"("stage_devices": ["cpu", "gpu1"])", "stage_devices[1]", "expected cpu, cuda or cuda:N");
}

TEST(RunConfigErrors, UnknownNamesListTheKnownOnes) {
  expect_error(R"("model": {"name": "cnnn"})", "model.name", "unknown model 'cnnn'; did you mean 'cnn'?");
  const InputError e = input_error([] { parse_preset(preset(R"("model": {"name": "alexnet"})"), kSource); });
  for (const auto& m : model_catalog()) EXPECT_NE(e.reason().find(m.name), std::string::npos) << m.name;
  expect_error(R"("dataset": {"name": "fashion_mnist"})", "dataset.name", "did you mean 'fashion-mnist'?");
  expect_error(R"("schedule": "gpipe2")", "schedule", "unknown schedule 'gpipe2'; did you mean 'gpipe'?");
  expect_error(R"("optimizer": {"name": "adamw"})", "optimizer.name", "did you mean 'adam'? (known: sgd, adam)");
  expect_error(R"("lr_schedule": {"name": "cosin"})", "lr_schedule.name",
               "did you mean 'cosine'? (known: constant, step, cosine)");
  expect_error(R"("device": "gpu")", "device", "did you mean 'cuda'?");
  expect_error(R"("executor": "threads")", "executor", "did you mean 'threaded'? (known: threaded, sequential, processes)");
  expect_error(R"("strategy": {"name": "stashing"})", "strategy.name", "unknown strategy 'stashing'");
}

TEST(RunConfigErrors, PartitionAndStages) {
  expect_error(R"("partition": [3, 3])", "partition[1]", "boundaries must be strictly increasing (3 after 3)");
  expect_error(R"("partition": [0, 2])", "partition[0]", "boundary 0 would leave stage 0 empty");
  expect_error(R"("stages": 3, "partition": [2])", "stages", "is 3 but partition has 1 boundary (2 stages)");
  expect_error(R"("partition": [2], "stages": 1)", "stages", "is 1 but partition has 1 boundary");
  EXPECT_EQ(parse_preset(preset(R"("partition": [2, 4])"), kSource).stages, 3);
  EXPECT_EQ(parse_preset(preset(R"("partition": [2, 4], "stages": 3)"), kSource).num_stages(), 3);
}

TEST(RunConfigErrors, FieldsThatMustAgree) {
  expect_error(R"("schedule": "gpipe", "batch_size": 4, "microbatches": 8)", "microbatches",
               "must not exceed batch_size (4), got 8");
  expect_error(R"("schedule": "1f1b-async", "microbatches": 2)", "microbatches",
               "schedule '1f1b-async' takes no microbatches");
  expect_error(R"("stages": 2, "stage_devices": ["cpu"])", "stage_devices", "lists 1 device for 2 stages");
  expect_error(R"("optimizer": {"name": "adam", "nesterov": true})", "optimizer.nesterov", "sgd' only");
  expect_error(R"("optimizer": {"momentum": 0, "nesterov": true})", "optimizer.nesterov", "momentum > 0");
  expect_error(R"("schedule": "data-parallel", "stages": 2, "partition": [1])", "partition", "replicas");
  expect_error(R"("schedule": "data-parallel", "stages": 8, "batch_size": 4)", "batch_size", "across 8 replicas");
  expect_error(R"("lr_schedule": {"name": "cosine", "min_lr": 0.5})", "lr_schedule.min_lr",
               "must not exceed optimizer.lr (0.05), got 0.5");
}

TEST(RunConfigErrors, StrategyIsCheckedAgainstItsCatalogueEntry) {
  expect_error(R"("strategy": {"name": "latest", "params": {"x": 1}})", "strategy.params.x", "takes no parameters");
  expect_error(R"("schedule": "gpipe", "strategy": {"name": "spectrain"})", "strategy.name",
               "needs an asynchronous schedule");
  // Strategies that extrapolate optimizer state need that optimizer.
  expect_error(R"("optimizer": {"name": "adam"}, "strategy": {"name": "spectrain"})", "optimizer.name",
               "needs optimizer 'sgd', got 'adam'");
  expect_error(R"("strategy": {"name": "nesterov"})", "optimizer.nesterov", "set optimizer.nesterov to true");
  expect_error(R"("strategy": {"name": "adam-predict"})", "optimizer.name", "needs optimizer 'adam', got 'sgd'");
}

TEST(RunConfigErrors, MissingFileNamesIt) {
  const std::string path = "/nonexistent/pipescope/preset.json";
  const InputError e = input_error([&] { load_preset(path); });
  EXPECT_EQ(e.file(), path);
  EXPECT_EQ(e.field(), "");
  EXPECT_EQ(e.reason().rfind("cannot open file: ", 0), 0u) << e.reason();
  EXPECT_EQ(input_error([] { load_preset("/tmp"); }).reason(), "cannot open file: it is a directory");
}

TEST(RunConfig, LoadPresetReadsAFile) {
  const auto path = std::filesystem::temp_directory_path() / "pipescope_core_config_test.json";
  std::ofstream(path) << preset(R"("epochs": 4)");
  const RunConfig c = load_preset(path.string());
  std::filesystem::remove(path);
  EXPECT_EQ(c.epochs, 4);
  EXPECT_EQ(c.source, path.string());
}

// ---- command-line overrides ---------------------------------------------------------------------------

InputError override_error(RunConfig& c, const std::string& assignment) {
  const RunConfig before = c;
  InputError e = input_error([&] { apply_override(c, assignment); });
  EXPECT_EQ(e.file(), "command line") << assignment;
  expect_same(c, before);  // a failed override leaves the config as it was
  return e;
}

TEST(Overrides, SetFieldsByPath) {
  RunConfig c;
  apply_override(c, "optimizer.lr=0.1");
  apply_override(c, "batch_size = 32");
  apply_override(c, "telemetry=0");
  apply_override(c, "dataset.normalize=true");
  apply_override(c, "model.hidden=64,32");
  apply_override(c, "stage_devices=[cpu, cuda:0]");
  apply_override(c, "name=hello world");
  apply_override(c, "seed=18446744073709551615");
  EXPECT_EQ(c.optimizer.lr, 0.1);
  EXPECT_EQ(c.batch_size, 32);
  EXPECT_FALSE(c.telemetry);
  EXPECT_TRUE(c.dataset.normalize);
  EXPECT_EQ(c.model.hidden, (std::vector<int>{64, 32}));
  EXPECT_EQ(c.stage_devices, (std::vector<std::string>{"cpu", "cuda:0"}));
  EXPECT_EQ(c.name, "hello world");
  EXPECT_EQ(c.seed, 18446744073709551615ULL);
}

TEST(Overrides, SameChecksAsPresets) {
  RunConfig c;
  InputError e = override_error(c, "optimizer.lr=abc");
  EXPECT_EQ(e.field(), "optimizer.lr");
  EXPECT_EQ(e.reason(), "expected a number, got 'abc'");
  EXPECT_EQ(override_error(c, "optimizer.lr=-1").reason(), "must be greater than 0, got -1");
  EXPECT_EQ(override_error(c, "batch_size=2.5").reason(), "expected an integer, got 2.5");
  EXPECT_EQ(override_error(c, "telemetry=maybe").reason(), "expected true or false, got 'maybe'");
  EXPECT_NE(override_error(c, "model.name=cnnn").reason().find("did you mean 'cnn'?"), std::string::npos);
  e = override_error(c, "partition=3,x");
  EXPECT_EQ(e.field(), "partition[1]");
  EXPECT_EQ(override_error(c, "partition=4,2").field(), "partition[1]");
}

TEST(Overrides, BadPathsAndSyntax) {
  RunConfig c;
  InputError e = override_error(c, "optimizer.lrr=1");
  EXPECT_EQ(e.field(), "optimizer.lrr");
  EXPECT_NE(e.reason().find("did you mean 'optimizer.lr'?"), std::string::npos) << e.reason();
  EXPECT_NE(override_error(c, "lr=0.1").reason().find("did you mean 'optimizer.lr'?"), std::string::npos);
  EXPECT_NE(override_error(c, "optimizer=1").reason().find("is a section"), std::string::npos);
  EXPECT_NE(override_error(c, "epochs").reason().find("expected KEY=VALUE"), std::string::npos);
  EXPECT_NE(override_error(c, "=3").reason().find("expected KEY=VALUE"), std::string::npos);
}

TEST(Overrides, PartitionAndStagesFollowTheLastWord) {
  RunConfig c;
  c.stages = 4;
  apply_override(c, "partition=2,4");
  EXPECT_EQ(c.stages, 3);
  apply_override(c, "stages=3");  // agrees: the partition stays
  EXPECT_EQ(c.partition, (std::vector<int>{2, 4}));
  apply_override(c, "stages=2");  // disagrees: split evenly instead
  EXPECT_TRUE(c.partition.empty());
  EXPECT_EQ(c.num_stages(), 2);
}

// With chunks, a partition of S*v chunks means S devices: partition=1..7 under zbv (2 per device) is 4
// stages, not 8; a chunk count or schedule that no longer divides it drops it.
TEST(Overrides, APartitionOfChunksSetsTheDevicesItFills) {
  RunConfig c;
  c.schedule = "zbv";
  c.stages = 2;
  apply_override(c, "partition=1,2,3,4,5,6,7");
  EXPECT_EQ(c.stages, 4);
  EXPECT_EQ(c.num_stages(), 4);
  EXPECT_EQ(c.num_chunks(), 8);
  apply_override(c, "stages=4");  // agrees: the partition stays
  EXPECT_EQ(c.partition.size(), 7u);
  apply_override(c, "schedule=1f1b-flush");  // one chunk per device: 8 chunks are not 4 stages
  EXPECT_TRUE(c.partition.empty());
  EXPECT_EQ(c.num_stages(), 4);
  c.schedule = "interleaved-1f1b";
  c.chunks = 2;
  apply_override(c, "partition=2,4,6");  // 4 chunks over 2 per device: 2 devices
  EXPECT_EQ(c.stages, 2);
  apply_override(c, "chunks=4");  // 4 chunks, 4 per device: 1 device, not the 2 asked for
  EXPECT_TRUE(c.partition.empty());
}

// A schedule of another placement starts at its own chunks per device: a zbv preset's 2 chunks do not
// follow it to zb-h1 (one per device) or to interleaved-1f1b (loop); within a placement they stay.
TEST(Overrides, AScheduleOfAnotherPlacementTakesItsOwnChunks) {
  RunConfig c;
  c.schedule = "zbv";
  c.chunks = 2;
  apply_override(c, "schedule=dualpipev");  // V as well: the chunks stay
  EXPECT_EQ(c.chunks, 2);
  apply_override(c, "schedule=zb-h1");
  EXPECT_EQ(c.chunks, 0);
  EXPECT_EQ(c.chunks_per_device(), 1);
  c.schedule = "interleaved-1f1b";
  c.chunks = 3;
  apply_override(c, "schedule=looped-bfs");  // loop as well
  EXPECT_EQ(c.chunks, 3);
  apply_override(c, "schedule=zbv");
  EXPECT_EQ(c.chunks_per_device(), 2);
}

TEST(Overrides, StrategyParams) {
  RunConfig c;
  c.strategy = {"i-timeprest", {}};
  apply_override(c, "strategy.params.lambda=0.3");
  EXPECT_EQ(c.strategy.params.at("lambda"), "0.3");
  InputError e = override_error(c, "strategy.params.lamda=0.3");
  EXPECT_EQ(e.field(), "strategy.params.lamda");
  EXPECT_NE(e.reason().find("did you mean 'lambda'?"), std::string::npos) << e.reason();
  EXPECT_NE(override_error(c, "strategy.params.lambda=-1").reason().find("must be in (0, inf)"), std::string::npos);
  apply_override(c, "strategy.name=stash");  // another strategy: the old parameters go
  EXPECT_TRUE(c.strategy.params.empty());
  EXPECT_NE(override_error(c, "strategy.params.lambda=1").reason().find("takes no parameters"), std::string::npos);
}

// ---- the shipped presets ---------------------------------------------------------------------------

std::filesystem::path presets_dir() {
  const char* root = std::getenv("PIPESCOPE_SOURCE_DIR");
  return root ? std::filesystem::path(root) / "presets" : std::filesystem::path();
}

TEST(Presets, EveryPresetLoadsAndValidates) {
  const auto dir = presets_dir();
  ASSERT_FALSE(dir.empty()) << "set PIPESCOPE_SOURCE_DIR (ctest does) to the source tree";
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(entry.path().string());
    RunConfig c;
    ASSERT_NO_THROW(c = load_preset(entry.path().string()));
    EXPECT_FALSE(c.name.empty());
    EXPECT_GE(c.description.size(), 40u) << "a teacher reads this description";
    expect_same(parse_preset(preset_to_json(c), c.source), c);
    names.insert(entry.path().stem().string());
  }
  for (const char* expected :
       {"default", "tiny", "classroom-gpipe", "classroom-staleness", "classroom-stash", "classroom-interleaved",
        "classroom-zero-bubble", "classroom-spectrain", "transformer-tiny"})
    EXPECT_EQ(names.count(expected), 1u) << expected;
}

TEST(Presets, StashAndSpecTrainLessonsDifferFromTheStalenessLessonOnlyInTheStrategy) {
  const auto dir = presets_dir();
  ASSERT_FALSE(dir.empty());
  for (const char* other : {"stash", "spectrain"}) {
    SCOPED_TRACE(other);
    RunConfig stale = load_preset((dir / "classroom-staleness.json").string());
    const RunConfig lesson = load_preset((dir / ("classroom-" + std::string(other) + ".json")).string());
    EXPECT_EQ(stale.strategy.name, "latest");
    EXPECT_EQ(lesson.strategy.name, other);
    stale.name = lesson.name;
    stale.description = lesson.description;
    stale.strategy = lesson.strategy;
    expect_same(stale, lesson);
  }
}

}  // namespace
}  // namespace ps
