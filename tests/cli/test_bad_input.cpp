// Bad input through the real pipescope-cli (issue 8, part 3): every case exits with code 2, the message
// names the file (preset, data file or "command line"), the field and the reason, and nothing is left
// half-written: the --out directory is not even created.
//
// Data-file cases build a small MNIST-format directory from the first bytes of Debian's Fashion-MNIST
// (/usr/share/datasets/fashion-mnist) and then truncate or corrupt one file; they are skipped when the
// package is not installed.
#include <gtest/gtest.h>

#include "cli_runner.h"
#include <sys/wait.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const fs::path kFashion = "/usr/share/datasets/fashion-mnist";

using Result = ps::test::CliResult;
using ps::test::cli;
using ps::test::src;

class CliBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("pipescope_bad_input_" + std::string(info->name()) + "_" +
                                        std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path out_dir() const { return dir_ / "out"; }

  fs::path write_preset(const std::string& name, const std::string& text) const {
    fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p;
  }

  // Runs `args` with --out DIR; expects exit code 2, every fragment in the output, and no --out DIR.
  Result expect_refused(const std::string& args, const std::vector<std::string>& fragments) const {
    Result r = cli(args + " --out " + out_dir().string());
    EXPECT_EQ(r.code, 2) << args << "\n" << r.out;
    for (const auto& f : fragments) EXPECT_NE(r.out.find(f), std::string::npos) << "missing: " << f << "\n" << r.out;
    EXPECT_EQ(r.out.find("frame #"), std::string::npos) << "a LibTorch stack trace in place of a message:\n" << r.out;
    EXPECT_FALSE(fs::exists(out_dir())) << "left " << out_dir() << " behind for: " << args;
    return r;
  }

  // A preset around `model` and `dataset` (JSON objects) that runs two tiny steps.
  fs::path small_preset(const std::string& model, const std::string& dataset, const std::string& extra = "") const {
    return write_preset("p.json", R"({"model": )" + model + R"(, "dataset": )" + dataset +
                                      R"(, "batch_size": 8, "steps": 2, "stages": 1)" +
                                      (extra.empty() ? "" : ", " + extra) + "}");
  }

  fs::path dir_;
};

// ---- presets and flags -----------------------------------------------------------------------------

TEST_F(CliBadInput, MalformedJsonNamesFileLineAndColumn) {
  const auto p = write_preset("broken.json", "{\n  \"model\": {\"name\": \"mlp\"},\n  \"dataset\": {\"name\": \"spirals\"\n");
  expect_refused("run --preset " + p.string(), {"error: " + p.string() + ": malformed JSON at line 4"});
  const auto empty = write_preset("empty.json", "");
  expect_refused("run --preset " + empty.string(), {empty.string() + ": malformed JSON at line 1, column 1"});
}

TEST_F(CliBadInput, MissingPresetFileAndDirectory) {
  expect_refused("run --preset " + (dir_ / "nope.json").string(),
                 {(dir_ / "nope.json").string() + ": cannot open file: No such file or directory"});
  expect_refused("run --preset " + dir_.string(), {dir_.string() + ": cannot open file: it is a directory"});
  expect_refused("run", {"command line: --preset: is required"});
}

TEST_F(CliBadInput, UnknownFieldsSayDidYouMean) {
  const auto p = write_preset("x.json", R"({"model": {"name": "mlp"}, "dataset": {"name": "spirals", "synthetic_sise": 64}})");
  expect_refused("run --preset " + p.string(),
                 {p.string() + ": dataset.synthetic_sise: unknown key 'synthetic_sise'; did you mean 'synthetic_size'?"});
  expect_refused("run --preset " + src("presets/tiny.json") + " --set optimizer.momentun=0.5",
                 {"command line: optimizer.momentun: unknown key", "did you mean 'optimizer.momentum'?"});
  expect_refused("run --preset " + src("presets/tiny.json") + " --stpes 3", {"command line: --stpes: unknown argument"});
}

TEST_F(CliBadInput, WrongTypes) {
  const auto p = write_preset("x.json", R"({"model": {"name": "mlp"}, "dataset": {"name": "spirals"}, "batch_size": "32"})");
  expect_refused("run --preset " + p.string(), {p.string() + ": batch_size: expected an integer, got a string (\"32\")"});
  expect_refused("run --preset " + src("presets/tiny.json") + " --steps ten",
                 {"command line: steps: expected an integer, got 'ten'"});
  expect_refused("run --preset " + src("presets/tiny.json") + " --set telemetry=maybe",
                 {"command line: telemetry: expected true or false, got 'maybe'"});
}

TEST_F(CliBadInput, OutOfRangeValues) {
  expect_refused("run --preset " + src("presets/tiny.json") + " --lr -0.5",
                 {"command line: optimizer.lr: must be greater than 0, got -0.5"});
  expect_refused("run --preset " + src("presets/tiny.json") + " --batch-size 0",
                 {"command line: batch_size: must be at least 1, got 0"});
  const auto p = write_preset("x.json", R"({"model": {"name": "mlp"}, "dataset": {"name": "spirals"},
    "optimizer": {"momentum": 1.5}})");
  expect_refused("run --preset " + p.string(), {p.string() + ": optimizer.momentum: must be in [0, 1), got 1.5"});
  // More samples per minibatch than the training set holds: known only once the data is loaded.
  expect_refused("run --preset " + src("presets/tiny.json") + " --set dataset.train_limit=10",
                 {src("presets/tiny.json") + ": batch_size: batch size 32 is larger than the training set (10 samples)"});
}

TEST_F(CliBadInput, InconsistentPartitions) {
  const std::string tiny = src("presets/tiny.json");
  // The command line's partition is checked as the command line's (the model's unit count, later, as
  // the run's config).
  expect_refused("run --preset " + tiny + " --partition 3,1",
                 {"command line: partition[1]: boundaries must be strictly increasing (1 after 3)"});
  expect_refused("run --preset " + tiny + " --partition 1,2,7",
                 {tiny + ": partition[2]: boundary 7 is past the last layer unit (3)"});
  expect_refused("run --preset " + tiny + " --stages 9",
                 {tiny + ": stages: cannot split 4 layer units of model 'mlp' into 9 stages"});
  expect_refused("run --preset " + tiny + " --partition 0,2",
                 {"command line: partition[0]: boundary 0 would leave stage 0 empty"});
  expect_refused("run --preset " + tiny + " --stages 2 --partition 1", {"command line: --stages: give either"});
  const auto p = write_preset("x.json", R"({"model": {"name": "mlp"}, "dataset": {"name": "spirals"},
    "stages": 4, "partition": [1, 2]})");
  expect_refused("run --preset " + p.string(), {p.string() + ": stages: is 4 but partition has 2 boundaries (3 stages)"});
}

TEST_F(CliBadInput, UnknownDevice) {
  expect_refused("run --preset " + src("presets/tiny.json") + " --device tpu",
                 {"command line: device: unknown device 'tpu'", "(known: cpu, cuda)"});
  expect_refused("run --preset " + src("presets/tiny.json") + " --device gpu", {"did you mean 'cuda'?"});
  expect_refused("run --preset " + src("presets/tiny.json") + " --set stage_devices=cpu,npu:0",
                 {"command line: stage_devices[1]: expected cpu, cuda or cuda:N, got 'npu:0'"});
}

TEST_F(CliBadInput, CudaWhereThereIsNone) {
  const std::string tiny = src("presets/tiny.json");
  const Result probe = cli("run --preset " + tiny + " --device cuda --steps 1 --quiet");
  if (probe.code == 0) GTEST_SKIP() << "this machine has CUDA";
  expect_refused("run --preset " + tiny + " --device cuda",
                 {tiny + ": device: CUDA was asked for, but this LibTorch has no CUDA device available"});
}

// The same through stage_devices.
TEST_F(CliBadInput, CudaStageDeviceWhereThereIsNone) {
  const std::string tiny = src("presets/tiny.json");
  const Result probe = cli("run --preset " + tiny + " --device cuda --steps 1 --quiet");
  if (probe.code == 0) GTEST_SKIP() << "this machine has CUDA";
  expect_refused("run --preset " + tiny + " --set stage_devices=cpu,cuda:0", {tiny + ": stage_devices"});
}

TEST_F(CliBadInput, OutputDirectoryThatCannotBeCreated) {
  const auto file = write_preset("not-a-dir", "x");
  const Result r = cli("run --preset " + src("presets/tiny.json") + " --steps 2 --out " + (file / "sub").string());
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find((file / "sub").string() + ": cannot create the output directory"), std::string::npos) << r.out;
}

// An unwritable --trace is refused before any other output is made.
TEST_F(CliBadInput, UnwritableTraceLeavesNoOutputsBehind) {
  expect_refused("run --preset " + src("presets/tiny.json") + " --steps 2 --trace " + (dir_ / "no/such/t.json").string(),
                 {(dir_ / "no/such/t.json").string() + ": cannot create the file"});
}

// ---- models that do not fit the data ------------------------------------------------------------------

TEST_F(CliBadInput, ModelThatDoesNotFitTheData) {
  // The model errors name the preset, the field and the reason.
  expect_refused("run --preset " + src("presets/tiny.json") + " --set model.name=cnn",
                 {src("presets/tiny.json") + ": model.name: cnn needs image inputs [C,H,W], but the data set gives samples [2]"});
  expect_refused("run --preset " + src("presets/tiny.json") + " --set model.name=transformer",
                 {src("presets/tiny.json") + ": model.name: transformer needs token sequences [T] (the sequence data set)"});
  expect_refused("run --preset " + src("presets/transformer-tiny.json") + " --set model.name=mlp",
                 {src("presets/transformer-tiny.json") + ": model.name: mlp needs float inputs, but the data set gives token sequences"});
}

// ---- data files ---------------------------------------------------------------------------------------

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

// The first `bytes` bytes of the gunzipped `gz`.
std::string gunzip_head(const fs::path& gz, std::size_t bytes) {
  const std::string cmd = "gzip -dc '" + gz.string() + "' 2>/dev/null | head -c " + std::to_string(bytes);
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 65536> buf{};
  for (std::size_t n; p && (n = fread(buf.data(), 1, buf.size(), p)) > 0;) out.append(buf.data(), n);
  if (p) pclose(p);
  return out;
}

std::string big_endian(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

// An unsigned-byte IDX file: magic 0x0000080N, the dimensions, the payload.
std::string idx(const std::vector<std::uint32_t>& dims, const std::string& payload) {
  std::string s = big_endian(0x800u + static_cast<std::uint32_t>(dims.size()));
  for (auto d : dims) s += big_endian(d);
  return s + payload;
}

// A valid MNIST-format directory: the first `train` / `test` samples of Fashion-MNIST, raw (not gzipped).
void write_small_fashion(const fs::path& dir, std::uint32_t train, std::uint32_t test) {
  fs::create_directories(dir);
  const std::size_t image = 28 * 28;
  for (const auto& [prefix, n] : {std::pair<std::string, std::uint32_t>{"train", train}, {"t10k", test}}) {
    const std::string images = gunzip_head(kFashion / (prefix + "-images-idx3-ubyte.gz"), 16 + n * image);
    const std::string labels = gunzip_head(kFashion / (prefix + "-labels-idx1-ubyte.gz"), 8 + n);
    ASSERT_EQ(images.size(), 16 + n * image);
    ASSERT_EQ(labels.size(), 8 + n);
    write_file(dir / (prefix + "-images-idx3-ubyte"), idx({n, 28, 28}, images.substr(16)));
    write_file(dir / (prefix + "-labels-idx1-ubyte"), idx({n}, labels.substr(8)));
  }
}

class CliBadData : public CliBadInput {
 protected:
  void SetUp() override {
    if (!fs::exists(kFashion / "train-images-idx3-ubyte.gz")) GTEST_SKIP() << "dataset-fashion-mnist not installed";
    CliBadInput::SetUp();
    data_ = dir_ / "data";
    write_small_fashion(data_, 64, 16);
  }

  fs::path fashion_preset(const std::string& model = R"({"name": "mlp", "hidden": [16]})") const {
    return small_preset(model, R"({"name": "fashion-mnist", "path": ")" + data_.string() + R"("})");
  }

  fs::path data_;
};

TEST_F(CliBadData, TheSmallCopyIsValid) {
  // Otherwise the failures below could come from the copy rather than from the damage done to it.
  const Result r = cli("run --preset " + fashion_preset().string() + " --quiet --out " + out_dir().string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(fs::exists(out_dir() / "summary.json"));
}

TEST_F(CliBadData, MissingDirectory) {
  fs::remove_all(data_);
  expect_refused("run --preset " + fashion_preset().string(), {"error: " + data_.string() + ": no such directory"});
}

TEST_F(CliBadData, MissingFile) {
  fs::remove(data_ / "t10k-labels-idx1-ubyte");
  expect_refused("run --preset " + fashion_preset().string(),
                 {(data_ / "t10k-labels-idx1-ubyte").string() + ": no such file (nor t10k-labels-idx1-ubyte.gz)"});
}

TEST_F(CliBadData, TruncatedImages) {
  const fs::path images = data_ / "train-images-idx3-ubyte";
  write_file(images, read_file(images).substr(0, 1000));
  expect_refused("run --preset " + fashion_preset().string(),
                 {images.string() + ": truncated: expected " + std::to_string(16 + 64 * 784) + " bytes, got 1000"});
}

TEST_F(CliBadData, TruncatedHeader) {
  const fs::path labels = data_ / "train-labels-idx1-ubyte";
  write_file(labels, read_file(labels).substr(0, 3));
  expect_refused("run --preset " + fashion_preset().string(),
                 {labels.string() + ": truncated: expected at least 4 bytes of IDX header, got 3"});
}

TEST_F(CliBadData, EmptyFile) {
  const fs::path labels = data_ / "t10k-labels-idx1-ubyte";
  write_file(labels, "");
  expect_refused("run --preset " + fashion_preset().string(), {labels.string() + ": truncated"});
}

TEST_F(CliBadData, TruncatedGzip) {
  // The real .gz cut after 3000 bytes, in place of the raw images.
  fs::remove(data_ / "train-images-idx3-ubyte");
  const fs::path gz = data_ / "train-images-idx3-ubyte.gz";
  write_file(gz, read_file(kFashion / "train-images-idx3-ubyte.gz").substr(0, 3000));
  expect_refused("run --preset " + fashion_preset().string(),
                 {gz.string() + ": corrupt gzip stream: the stream ends before its end marker (truncated .gz file)"});
}

TEST_F(CliBadData, CorruptGzip) {
  // The real labels .gz with its deflate data overwritten in the middle.
  fs::remove(data_ / "t10k-labels-idx1-ubyte");
  const fs::path gz = data_ / "t10k-labels-idx1-ubyte.gz";
  std::string bytes = read_file(kFashion / "t10k-labels-idx1-ubyte.gz");
  ASSERT_GT(bytes.size(), 2000u);
  for (std::size_t i = 1000; i < 1400; ++i) bytes[i] = static_cast<char>(0xff - static_cast<unsigned char>(bytes[i]));
  write_file(gz, bytes);
  expect_refused("run --preset " + fashion_preset().string(), {gz.string() + ": corrupt gzip stream: "});
}

TEST_F(CliBadData, CorruptHeaderAnnouncesMoreThanAnyFileHolds) {
  const fs::path images = data_ / "t10k-images-idx3-ubyte";
  std::string bytes = read_file(images);
  bytes.replace(4, 4, big_endian(0xFFFFFFFFu));
  bytes.replace(8, 4, big_endian(0xFFFFFFFFu));
  write_file(images, bytes);
  expect_refused("run --preset " + fashion_preset().string(),
                 {images.string() + ": truncated: the header announces dimensions 4294967295x4294967295x28"});
}

TEST_F(CliBadData, LabelsInPlaceOfImages) {
  fs::copy_file(data_ / "train-labels-idx1-ubyte", data_ / "train-images-idx3-ubyte",
                fs::copy_options::overwrite_existing);
  expect_refused("run --preset " + fashion_preset().string(),
                 {(data_ / "train-images-idx3-ubyte").string() +
                  ": bad magic number: expected 0x00000803 (images), found 0x00000801"});
}

TEST_F(CliBadData, LabelOutOfRange) {
  const fs::path labels = data_ / "train-labels-idx1-ubyte";
  std::string bytes = read_file(labels);
  bytes[8 + 5] = static_cast<char>(200);
  write_file(labels, bytes);
  expect_refused("run --preset " + fashion_preset().string(),
                 {labels.string() + ": label 200 at index 5 is out of range [0, 10)"});
}

TEST_F(CliBadData, ImageAndLabelCountsDisagree) {
  const fs::path labels = data_ / "t10k-labels-idx1-ubyte";
  write_file(labels, idx({15}, read_file(labels).substr(8, 15)));
  expect_refused("run --preset " + fashion_preset().string(),
                 {labels.string() + ": count mismatch: 15 labels for 16 images"});
}

TEST_F(CliBadData, TransformerOnImages) {
  expect_refused("run --preset " + fashion_preset(R"({"name": "transformer"})").string(),
                 {"model.name: transformer needs token sequences [T] (the sequence data set), but the data set gives"});
}

TEST_F(CliBadData, Lenet5OnImagesTooSmallForIt) {
  // An MNIST-format directory of 8x8 images: lenet5's two 5x5 convolutions and poolings need 12x12.
  const fs::path small = dir_ / "small";
  fs::create_directories(small);
  for (const auto& [prefix, n] : {std::pair<std::string, std::uint32_t>{"train", 32}, {"t10k", 8}}) {
    write_file(small / (prefix + "-images-idx3-ubyte"), idx({n, 8, 8}, std::string(n * 64, '\x40')));
    write_file(small / (prefix + "-labels-idx1-ubyte"), idx({n}, std::string(n, '\x01')));
  }
  const auto p = small_preset(R"({"name": "lenet5"})", R"({"name": "mnist-dir", "path": ")" + small.string() + R"("})");
  expect_refused("run --preset " + p.string(), {"model.name: lenet5 needs images of at least 12x12 pixels"});
}

TEST_F(CliBadData, FileBackedSetWithoutDirectory) {
  const auto p = small_preset(R"({"name": "cnn"})", R"({"name": "cifar10"})");
  expect_refused("run --preset " + p.string(),
                 {p.string() + ": dataset.path: missing; the cifar10 data set is read from files"});
  const auto q = small_preset(R"({"name": "cnn"})", R"({"name": "cifar10", "path": ")" + data_.string() + R"("})");
  expect_refused("run --preset " + q.string(), {(data_ / "data_batch_1.bin").string() + ": no such file"});
}

}  // namespace
