// Bad input to the preset reader and the command-line overrides (issue 8, part 3), beyond the cases of
// core_config.cpp: each is refused with an InputError naming the file, the field path and the reason,
// and never with another exception or a crash. Also re-reads the fuzzer's regression inputs.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"
#include "engine/config/run_config.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

const std::string kSource = "/data/my-preset.json";

using test::source_dir;

std::string preset(const std::string& extra = "") {
  return R"({"model": {"name": "mlp"}, "dataset": {"name": "spirals"})" + (extra.empty() ? "" : ", " + extra) + "}";
}

struct Case {
  std::string text;      // the whole preset
  std::string field;     // expected field path ("" for the file as a whole)
  std::string fragment;  // expected part of the reason
};

// Parses `c.text`; expects an InputError with the file, field and reason, and a message naming all three.
void expect_refused(const Case& c) {
  SCOPED_TRACE(c.text);
  try {
    parse_preset(c.text, kSource);
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), kSource);
    EXPECT_EQ(e.field(), c.field);
    EXPECT_NE(e.reason().find(c.fragment), std::string::npos) << "reason: " << e.reason();
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(kSource, 0), 0u) << what;
    if (!c.field.empty()) EXPECT_NE(what.find(": " + c.field + ": "), std::string::npos) << what;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "refused with another exception: " << e.what();
  }
}

void expect_all(const std::vector<Case>& cases) {
  for (const Case& c : cases) expect_refused(c);
}

TEST(BadInputPreset, MalformedJson) {
  expect_all({
      {"", "", "malformed JSON at line 1, column 1"},
      {"   \n\n", "", "malformed JSON at line 3"},
      {R"({"model": {"name": "mlp"}, "dataset": {"name": "spirals"})", "", "malformed JSON at line 1"},
      {"{\"model\": {\"name\": \"mlp\"},\n \"dataset\": {\"name\": \"spirals\"},\n \"epochs\": 2,\n}", "",
       "malformed JSON at line 4"},
      {preset() + " trailing", "", "malformed JSON"},
      {R"({"model": {"name": "mlp"} "dataset": {"name": "spirals"}})", "", "malformed JSON at line 1"},
      {"{\"model\": {\"name\": \"ml\xff\"}}", "", "malformed JSON"},  // invalid UTF-8
      {R"({"model": {"name": "mlp"}, 'dataset': {}})", "", "malformed JSON"},
      {R"({"optimizer": {"lr": .5}})", "", "malformed JSON"},
      {R"({"optimizer": {"lr": NaN}})", "", "malformed JSON"},
      {"null", "", "expected a JSON object at the top level, got null"},
      {"\"mlp\"", "", "expected a JSON object at the top level, got a string"},
      {"42", "", "expected a JSON object at the top level, got a number"},
  });
}

TEST(BadInputPreset, UnknownFieldsInEverySectionSuggestTheNearest) {
  expect_all({
      {preset(R"("batchsize": 8)"), "batchsize", "did you mean 'batch_size'?"},
      {preset(R"("micro_batches": 2)"), "micro_batches", "did you mean 'microbatches'?"},
      {R"({"model": {"name": "mlp", "hiden": [8]}, "dataset": {"name": "spirals"}})", "model.hiden",
       "did you mean 'hidden'?"},
      {R"({"model": {"name": "mlp"}, "dataset": {"name": "spirals", "train_limt": 8}})", "dataset.train_limt",
       "did you mean 'train_limit'?"},
      {preset(R"("optimizer": {"momentun": 0.5})"), "optimizer.momentun", "did you mean 'momentum'?"},
      {preset(R"("strategy": {"name": "stash", "param": {}})"), "strategy.param", "did you mean 'params'?"},
      {preset(R"("stratgey": {"name": "stash"})"), "stratgey", "did you mean 'strategy'?"},
      {preset(R"("momentum": 0.5)"), "momentum", "did you mean 'optimizer.momentum'"},
      {preset(R"("strategy": {"name": "pipemare", "params": {"warmpu": 3}})"), "strategy.params.warmpu",
       "has no parameter 'warmpu'; did you mean 'warmup'?"},
  });
}

TEST(BadInputPreset, WrongTypes) {
  expect_all({
      {R"({"model": ["mlp"], "dataset": {"name": "spirals"}})", "model", "expected an object, got an array"},
      {R"({"model": {"name": 7}, "dataset": {"name": "spirals"}})", "model.name", "expected a string, got a number"},
      {R"({"model": {"name": "mlp"}, "dataset": "spirals"})", "dataset", "expected an object, got a string"},
      {preset(R"("stages": "2")"), "stages", "expected an integer, got a string (\"2\")"},
      {preset(R"("stages": true)"), "stages", "expected an integer, got true"},
      {preset(R"("steps": [10])"), "steps", "expected an integer, got an array"},
      {preset(R"("partition": [1, 2.5])"), "partition[1]", "expected an integer, got 2.5"},
      {preset(R"("partition": "1,2")"), "partition", "expected an array, got a string"},
      {preset(R"("stage_devices": ["cpu", 0])"), "stage_devices[1]", "expected a string, got a number (0)"},
      {R"({"model": {"name": "mlp"}, "dataset": {"name": "spirals", "normalize": "true"}})", "dataset.normalize",
       "expected true or false, got a string"},
      {preset(R"("optimizer": {"nesterov": 1})"), "optimizer.nesterov", "expected true or false, got a number"},
      {preset(R"("strategy": {"name": "stash", "params": []})"), "strategy.params", "expected an object, got an array"},
      {preset(R"("strategy": {"name": "stash", "params": {"x": null}})"), "strategy.params.x",
       "expected a number, a string or true/false, got null"},
      {preset(R"("description": {"text": "x"})"), "description", "expected a string, got an object"},
  });
}

TEST(BadInputPreset, OutOfRangeValues) {
  expect_all({
      {preset(R"("optimizer": {"lr": -0.1})"), "optimizer.lr", "must be greater than 0, got -0.1"},
      {preset(R"("optimizer": {"momentum": -0.1})"), "optimizer.momentum", "must be in [0, 1), got -0.1"},
      {preset(R"("optimizer": {"name": "adam", "beta2": 1})"), "optimizer.beta2", "must be in [0, 1), got 1"},
      {preset(R"("lr_schedule": {"gamma": 0})"), "lr_schedule.gamma", "must be in (0, 1], got 0"},
      {preset(R"("lr_schedule": {"gamma": 1.5})"), "lr_schedule.gamma", "must be in (0, 1], got 1.5"},
      {preset(R"("lr_schedule": {"warmup_steps": -1})"), "lr_schedule.warmup_steps", "must be at least 0, got -1"},
      {R"({"model": {"name": "mlp"}, "dataset": {"name": "spirals", "train_limit": -5}})", "dataset.train_limit",
       "must be at least 0, got -5"},
      {R"({"model": {"name": "mlp"}, "dataset": {"name": "spirals", "synthetic_size": 1}})", "dataset.synthetic_size",
       "must be at least 2, got 1"},
      {R"({"model": {"name": "cnn", "width": -8}, "dataset": {"name": "spirals"}})", "model.width",
       "must be at least 0, got -8"},
      {preset(R"("divergence_every": -1)"), "divergence_every", "must be at least 0, got -1"},
      {preset(R"("steps": 1e30)"), "steps", "is too large"},
      {preset(R"("steps": 99999999999999999999)"), "steps", "is too large"},
      {preset(R"("stages": 4294967297)"), "stages", "out of range for this field, got 4294967297"},
      {preset(R"("seed": 1.5)"), "seed", "expected an integer, got 1.5"},
      {preset(R"("batch_size": -64)"), "batch_size", "must be at least 1, got -64"},
  });
}

TEST(BadInputPreset, InconsistentPartitions) {
  expect_all({
      {preset(R"("partition": [3, 2])"), "partition[1]", "boundaries must be strictly increasing (2 after 3)"},
      {preset(R"("partition": [1, 2, 2])"), "partition[2]", "strictly increasing (2 after 2)"},
      {preset(R"("partition": [-1])"), "partition[0]", "boundary -1 is negative"},
      {preset(R"("partition": [0])"), "partition[0]", "boundary 0 would leave stage 0 empty"},
      {preset(R"("partition": [1, 2], "stages": 2)"), "stages", "is 2 but partition has 2 boundaries (3 stages)"},
      {preset(R"("stages": 2, "stage_devices": ["cpu", "cpu", "cpu"])"), "stage_devices",
       "lists 3 devices for 2 stages"},
  });
}

TEST(BadInputPreset, UnknownDevices) {
  expect_all({
      {preset(R"("device": "tpu")"), "device", "unknown device 'tpu'"},
      {preset(R"("device": "CPU")"), "device", "did you mean 'cpu'?"},
      {preset(R"("device": "cuda:0")"), "device", "unknown device 'cuda:0'"},
      {preset(R"("device": "")"), "device", "unknown device ''"},
      {preset(R"("stages": 2, "stage_devices": ["cpu", "cuda:x"])"), "stage_devices[1]",
       "expected cpu, cuda or cuda:N, got 'cuda:x'"},
      {preset(R"("stages": 2, "stage_devices": ["cpu", "cuda:"])"), "stage_devices[1]", "expected cpu, cuda or cuda:N"},
  });
}

TEST(BadInputPreset, FileBackedDataSetWithoutDirectory) {
  expect_all({
      {R"({"model": {"name": "cnn"}, "dataset": {"name": "cifar10"}})", "dataset.path",
       "the cifar10 data set is read from files"},
      {R"({"model": {"name": "mlp"}, "dataset": {"name": "mnist-dir"}})", "dataset.path",
       "the mnist-dir data set is read from files"},
  });
  // With a directory (or a default one) the preset is fine; whether the files are there is the loader's question.
  EXPECT_NO_THROW(parse_preset(R"({"model": {"name": "cnn"}, "dataset": {"name": "cifar10", "path": "/x"}})", kSource));
  EXPECT_NO_THROW(parse_preset(R"({"model": {"name": "cnn"}, "dataset": {"name": "fashion-mnist"}})", kSource));
}

TEST(BadInputPreset, FilesThatAreNotPresets) {
  const auto dir = std::filesystem::temp_directory_path() / ("pipescope_core_bad_input_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto empty = dir / "empty.json";
  std::ofstream(empty).close();
  const auto binary = dir / "binary.json";
  std::ofstream(binary, std::ios::binary) << std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
  const auto truncated = dir / "truncated.json";
  std::ofstream(truncated) << preset(R"("epochs": 3)").substr(0, 40);
  for (const auto& path : {empty, binary, truncated}) {
    try {
      load_preset(path.string());
      ADD_FAILURE() << path << " accepted";
    } catch (const InputError& e) {
      EXPECT_EQ(e.file(), path.string());
      EXPECT_NE(e.reason().find("malformed JSON"), std::string::npos) << e.what();
    }
  }
  std::filesystem::remove_all(dir);
}

// ---- command-line overrides ------------------------------------------------------------------------

void expect_override_refused(const std::string& assignment, const std::string& field, const std::string& fragment) {
  SCOPED_TRACE(assignment);
  RunConfig cfg = parse_preset(preset(), kSource);
  try {
    apply_override(cfg, assignment);
    validate(cfg);
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "command line");
    EXPECT_EQ(e.field(), field);
    EXPECT_NE(e.reason().find(fragment), std::string::npos) << "reason: " << e.reason();
  }
}

TEST(BadInputOverrides, TypesRangesAndNames) {
  expect_override_refused("optimizer.lr=fast", "optimizer.lr", "expected a number, got 'fast'");
  expect_override_refused("optimizer.lr=-1", "optimizer.lr", "must be greater than 0, got -1");
  expect_override_refused("stages=two", "stages", "expected an integer, got 'two'");
  expect_override_refused("stages=0", "stages", "must be at least 1, got 0");
  expect_override_refused("steps=1.5", "steps", "expected an integer, got 1.5");
  expect_override_refused("partition=3,1", "partition[1]", "strictly increasing (1 after 3)");
  expect_override_refused("partition=1,,2", "partition[1]", "expected an integer, got ''");
  expect_override_refused("telemetry=maybe", "telemetry", "expected true or false, got 'maybe'");
  expect_override_refused("device=gpu", "device", "did you mean 'cuda'?");
  expect_override_refused("optimizer.lrate=0.1", "optimizer.lrate", "did you mean 'optimizer.lr'?");
  expect_override_refused("model=cnn", "model", "is a section; set one of its keys, e.g. model.name");
  expect_override_refused("=3", "=3", "expected KEY=VALUE");
  expect_override_refused("name=caf\xe9", "name", "the value is not valid UTF-8 text");  // Latin-1, not UTF-8
  expect_override_refused("description=\xff", "description", "not valid UTF-8");
}

TEST(BadInputOverrides, Utf8TextIsAcceptedAndWrittenBack) {
  RunConfig cfg = parse_preset(preset(), kSource);
  apply_override(cfg, "description=caf\xc3\xa9 \xe2\x80\x94 ok");
  EXPECT_EQ(cfg.description, "caf\xc3\xa9 \xe2\x80\x94 ok");
  EXPECT_EQ(parse_preset(preset_to_json(cfg), kSource).description, cfg.description);
}

// ---- never anything but an InputError ----------------------------------------------------------------

// Parses `text`; true when accepted, false when refused with an InputError; fails on anything else.
bool parses_or_input_error(const std::string& text, const std::string& name) {
  try {
    const RunConfig c = parse_preset(text, name);
    EXPECT_EQ(preset_to_json(parse_preset(preset_to_json(c), name)), preset_to_json(c)) << name;
    return true;
  } catch (const InputError&) {
    return false;
  } catch (const std::exception& e) {
    ADD_FAILURE() << name << ": refused with another exception: " << e.what();
    return false;
  }
}

// Inputs the fuzzer (tests/fuzz/fuzz_preset.cpp) once crashed on, re-read in every build.
TEST(BadInputFuzzRegressions, EveryRegressionInputIsAcceptedOrRefusedCleanly) {
  const auto dir = std::filesystem::path(source_dir()) / "tests" / "fuzz" / "regressions";
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << dir << " not found (set PIPESCOPE_SOURCE_DIR)";
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().filename().string().rfind("README", 0) == 0) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    // What the fuzzer does with an input: parse it as a preset, and apply each line as an override.
    parses_or_input_error(text.str(), entry.path().string());
    RunConfig cfg;
    std::istringstream lines(text.str());
    for (std::string line; std::getline(lines, line);) {
      try {
        apply_override(cfg, line);
      } catch (const InputError&) {
      } catch (const std::exception& e) {
        ADD_FAILURE() << entry.path() << ": override refused with another exception: " << e.what();
      }
    }
    EXPECT_NO_THROW((void)preset_to_json(cfg)) << entry.path();
    ++seen;
  }
  RecordProperty("inputs", seen);
}

// Every prefix of a shipped preset (a file cut off while being written) is refused cleanly.
TEST(BadInputTruncated, EveryPrefixOfAPresetIsRefusedCleanly) {
  const auto path = std::filesystem::path(source_dir()) / "presets" / "tiny.json";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not found (set PIPESCOPE_SOURCE_DIR)";
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  const std::string whole = text.str();
  ASSERT_TRUE(parses_or_input_error(whole, "tiny.json"));
  const std::size_t last_brace = whole.rfind('}');
  for (std::size_t n = 0; n < last_brace; ++n)
    EXPECT_FALSE(parses_or_input_error(whole.substr(0, n), "tiny.json")) << "prefix of " << n << " bytes accepted";
}

}  // namespace
}  // namespace ps
