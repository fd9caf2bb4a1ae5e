// Data sets: IDX and CIFAR-10 parsing (with the failure modes users hit), synthetic sets, Fashion-MNIST.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "engine/data/dataset.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

Bytes idx_bytes(std::uint8_t ndim, const std::vector<std::uint32_t>& dims, const Bytes& data) {
  Bytes out{0, 0, 0x08, ndim};
  for (std::uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(d >> shift));
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

Bytes gzip(const Bytes& raw) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes out(deflateBound(&zs, raw.size()) + 64);
  zs.next_in = const_cast<Bytef*>(raw.data());
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

Bytes counting_bytes(std::size_t n, std::uint8_t modulo = 251) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>((i * 7 + 3) % modulo);
  return b;
}

// A fresh directory under /tmp per test, removed afterwards.
class DataLoadingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/pipescope_data_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const Bytes& bytes) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return path;
  }

  // An MNIST-style directory: `train_n` and `test_n` images of h x w, labels i % classes_mod.
  void write_mnist_dir(std::uint32_t train_n, std::uint32_t test_n, std::uint32_t h, std::uint32_t w,
                       int classes_mod, bool gz) {
    for (auto [prefix, n] : {std::pair<std::string, std::uint32_t>{"train", train_n}, {"t10k", test_n}}) {
      Bytes labels(n);
      for (std::uint32_t i = 0; i < n; ++i) labels[i] = static_cast<std::uint8_t>(i % classes_mod);
      const Bytes images = idx_bytes(3, {n, h, w}, counting_bytes(std::size_t(n) * h * w));
      write(prefix + "-images-idx3-ubyte" + (gz ? ".gz" : ""), gz ? gzip(images) : images);
      write(prefix + "-labels-idx1-ubyte" + (gz ? ".gz" : ""), gz ? gzip(idx_bytes(1, {n}, labels)) : idx_bytes(1, {n}, labels));
    }
  }

  DatasetConfig mnist_dir_config(bool normalize = false) const {
    DatasetConfig cfg;
    cfg.name = "mnist-dir";
    cfg.path = dir_;
    cfg.normalize = normalize;
    return cfg;
  }

  std::string dir_;
};

// Runs `load`, expects a DataError whose message names `path` and contains `reason`.
template <typename F>
void expect_data_error(F load, const std::string& path, const std::string& reason) {
  try {
    load();
    FAIL() << "no DataError; expected one naming " << path << " with '" << reason << "'";
  } catch (const DataError& e) {
    EXPECT_EQ(e.file(), path);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
  }
}

TEST_F(DataLoadingTest, IdxRawRoundTrip) {
  const Bytes pixels = counting_bytes(3 * 2 * 4);
  const std::string path = write("images", idx_bytes(3, {3, 2, 4}, pixels));
  at::Tensor t = read_idx(path);
  ASSERT_EQ(t.sizes(), at::IntArrayRef({3, 2, 4}));
  ASSERT_EQ(t.scalar_type(), at::kByte);
  EXPECT_TRUE(std::equal(pixels.begin(), pixels.end(), t.data_ptr<std::uint8_t>()));
}

TEST_F(DataLoadingTest, IdxGzipRoundTripIsDetectedByMagicNotName) {
  const Bytes labels = counting_bytes(50, 10);
  const Bytes packed = gzip(idx_bytes(1, {50}, labels));
  for (const std::string name : {"labels.gz", "labels-without-suffix"}) {
    at::Tensor t = read_idx(write(name, packed));
    ASSERT_EQ(t.sizes(), at::IntArrayRef({50}));
    EXPECT_TRUE(std::equal(labels.begin(), labels.end(), t.data_ptr<std::uint8_t>())) << name;
  }
}

TEST_F(DataLoadingTest, MissingFileIsNamed) {
  const std::string path = dir_ + "/absent-idx1-ubyte";
  expect_data_error([&] { read_idx(path); }, path, "no such file");
}

TEST_F(DataLoadingTest, BadMagicSaysExpectedAndFound) {
  Bytes bytes = idx_bytes(1, {4}, counting_bytes(4));
  bytes[2] = 0x0D;  // float elements: not what MNIST files hold
  const std::string path = write("floats", bytes);
  expect_data_error([&] { read_idx(path); }, path, "bad magic number");
  expect_data_error([&] { read_idx(path); }, path, "found 0x00000D01");
}

TEST_F(DataLoadingTest, LabelsInPlaceOfImagesAreRefusedByMagic) {
  write_mnist_dir(4, 2, 3, 3, 10, false);
  const std::string images = write("train-images-idx3-ubyte", idx_bytes(1, {4}, counting_bytes(4, 10)));
  expect_data_error([&] { load_dataset(mnist_dir_config(), 1); }, images, "expected 0x00000803 (images), found 0x00000801");
}

TEST_F(DataLoadingTest, TruncatedFileSaysHowManyBytes) {
  Bytes bytes = idx_bytes(3, {3, 2, 4}, counting_bytes(3 * 2 * 4));
  const std::size_t full = bytes.size();
  bytes.resize(full - 5);
  const std::string path = write("short", bytes);
  expect_data_error([&] { read_idx(path); }, path,
                    "expected " + std::to_string(full) + " bytes, got " + std::to_string(full - 5));
  const std::string gz_path = write("short.gz", gzip(bytes));  // the count is of the inflated bytes
  expect_data_error([&] { read_idx(gz_path); }, gz_path, "truncated");
  // A corrupt header announcing 2^96 bytes must not overflow the size arithmetic into a match.
  const std::string huge = write("huge", idx_bytes(3, {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, counting_bytes(8)));
  expect_data_error([&] { read_idx(huge); }, huge, "truncated");
}

TEST_F(DataLoadingTest, CorruptGzipStreamIsRefused) {
  const Bytes packed = gzip(idx_bytes(1, {400}, counting_bytes(400, 10)));
  Bytes cut(packed.begin(), packed.begin() + packed.size() / 2);
  const std::string cut_path = write("cut.gz", cut);
  expect_data_error([&] { read_idx(cut_path); }, cut_path, "corrupt gzip stream");

  Bytes garbled = packed;
  for (std::size_t i = 10; i < garbled.size(); ++i) garbled[i] = static_cast<std::uint8_t>(0xFF - i);
  const std::string garbled_path = write("garbled.gz", garbled);
  expect_data_error([&] { read_idx(garbled_path); }, garbled_path, "corrupt gzip stream");
}

TEST_F(DataLoadingTest, ImageAndLabelCountsMustMatch) {
  write_mnist_dir(6, 2, 4, 4, 10, false);
  const std::string labels = write("train-labels-idx1-ubyte", idx_bytes(1, {5}, counting_bytes(5, 10)));
  expect_data_error([&] { load_dataset(mnist_dir_config(), 1); }, labels, "count mismatch");
}

TEST_F(DataLoadingTest, FashionLabelOutOfRangeIsRefused) {
  write_mnist_dir(4, 2, 4, 4, 10, true);
  const std::string labels = write("t10k-labels-idx1-ubyte.gz", gzip(idx_bytes(1, {2}, {3, 10})));
  DatasetConfig cfg = mnist_dir_config();
  cfg.name = "fashion-mnist";
  expect_data_error([&] { load_dataset(cfg, 1); }, labels, "label 10 at index 1 is out of range [0, 10)");
}

TEST_F(DataLoadingTest, MnistDirectoryLoadsRawOrGzippedAsUnitFloats) {
  for (bool gz : {false, true}) {
    fs::remove_all(dir_);
    fs::create_directory(dir_);
    write_mnist_dir(7, 3, 5, 6, 4, gz);
    const DataSplit split = load_dataset(mnist_dir_config(), 1);
    ASSERT_EQ(split.train.inputs.sizes(), at::IntArrayRef({7, 1, 5, 6}));
    ASSERT_EQ(split.test.inputs.sizes(), at::IntArrayRef({3, 1, 5, 6}));
    EXPECT_EQ(split.input.sample_shape, (std::vector<std::int64_t>{1, 5, 6}));
    EXPECT_EQ(split.input.num_classes, 4);  // inferred from the largest label
    const Bytes pixels = counting_bytes(7 * 5 * 6);
    at::Tensor expected = torch::tensor(std::vector<float>(pixels.begin(), pixels.end())).div(255.0f).view({7, 1, 5, 6});
    EXPECT_TRUE(torch::allclose(split.train.inputs, expected)) << "gz " << gz;
    EXPECT_TRUE(torch::equal(split.test.labels, torch::tensor({0, 1, 2}, torch::kLong)));
  }
}

TEST_F(DataLoadingTest, NormalisationUsesTrainingStatisticsAndLimitsKeepTheFirstSamples) {
  write_mnist_dir(20, 6, 4, 4, 10, false);
  DatasetConfig cfg = mnist_dir_config(/*normalize=*/true);
  const DataSplit full = load_dataset(cfg, 1);
  EXPECT_NEAR(full.train.inputs.mean().item<double>(), 0.0, 1e-5);
  EXPECT_NEAR(full.train.inputs.std(/*unbiased=*/false).item<double>(), 1.0, 1e-4);

  cfg.normalize = false;
  cfg.train_limit = 5;
  cfg.test_limit = 2;
  const DataSplit cut = load_dataset(cfg, 1);
  ASSERT_EQ(cut.train.size(), 5);
  ASSERT_EQ(cut.test.size(), 2);
  cfg.train_limit = cfg.test_limit = 0;
  const DataSplit raw = load_dataset(cfg, 1);
  EXPECT_TRUE(torch::equal(cut.train.inputs, raw.train.inputs.slice(0, 0, 5)));
  EXPECT_TRUE(torch::equal(cut.test.labels, raw.test.labels.slice(0, 0, 2)));
}

Bytes cifar_records(int n, std::uint8_t first_label) {
  Bytes b;
  for (int r = 0; r < n; ++r) {
    b.push_back(static_cast<std::uint8_t>((first_label + r) % 10));
    const Bytes image = counting_bytes(3072, static_cast<std::uint8_t>(200 + r));
    b.insert(b.end(), image.begin(), image.end());
  }
  return b;
}

TEST_F(DataLoadingTest, Cifar10RecordsParseAsLabelThenChannelsHeightWidth) {
  for (int i = 1; i <= 5; ++i) write("data_batch_" + std::to_string(i) + ".bin", cifar_records(2, std::uint8_t(2 * i)));
  write("test_batch.bin", cifar_records(3, 7));
  DatasetConfig cfg;
  cfg.name = "cifar10";
  cfg.path = dir_;
  cfg.normalize = false;
  const DataSplit split = load_dataset(cfg, 1);
  ASSERT_EQ(split.train.inputs.sizes(), at::IntArrayRef({10, 3, 32, 32}));
  ASSERT_EQ(split.test.inputs.sizes(), at::IntArrayRef({3, 3, 32, 32}));
  EXPECT_TRUE(torch::equal(split.test.labels, torch::tensor({7, 8, 9}, torch::kLong)));
  EXPECT_EQ(split.train.labels[9].item<std::int64_t>(), 1);  // batch 5, second record: (10 + 1) % 10
  const Bytes second_image = counting_bytes(3072, 201);
  for (auto [c, y, x] : {std::array<int, 3>{0, 0, 0}, {1, 5, 7}, {2, 31, 30}}) {
    const float stored = second_image[c * 1024 + y * 32 + x] / 255.0f;
    EXPECT_FLOAT_EQ(split.test.inputs[1][c][y][x].item<float>(), stored) << c << "," << y << "," << x;
  }
  EXPECT_EQ(split.class_names.size(), 10u);
}

TEST_F(DataLoadingTest, Cifar10SizeNotMultipleOfRecordIsRefused) {
  for (int i = 1; i <= 5; ++i) write("data_batch_" + std::to_string(i) + ".bin", cifar_records(1, 0));
  Bytes broken = cifar_records(2, 0);
  broken.pop_back();
  const std::string path = write("test_batch.bin", broken);
  DatasetConfig cfg;
  cfg.name = "cifar10";
  cfg.path = dir_;
  expect_data_error([&] { load_dataset(cfg, 1); }, path, "not a positive multiple of 3073");
}

TEST(DataLoadingOptions, UnknownNameListsTheKnownOnes) {
  DatasetConfig cfg;
  cfg.name = "imagenet";
  try {
    load_dataset(cfg, 1);
    FAIL() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "dataset.name");
    EXPECT_NE(e.reason().find("fashion-mnist"), std::string::npos) << e.what();
    EXPECT_NE(e.reason().find("sequence"), std::string::npos) << e.what();
  }
}

TEST(DataLoadingOptions, DirectorySetWithoutPathOrDefaultNeedsOne) {
  DatasetConfig cfg;
  cfg.name = "mnist-dir";
  try {
    load_dataset(cfg, 1);
    FAIL() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "dataset.path");
  }
}

class DataLoadingSynthetic : public ::testing::TestWithParam<std::string> {};

TEST_P(DataLoadingSynthetic, DeterministicPerSeedAndDifferentAcrossSeeds) {
  DatasetConfig cfg;
  cfg.name = GetParam();
  cfg.synthetic_size = 300;
  cfg.test_fraction = 0.25;
  const DataSplit a = load_dataset(cfg, 5), b = load_dataset(cfg, 5), c = load_dataset(cfg, 6);
  ASSERT_EQ(a.train.size(), 300);
  ASSERT_EQ(a.test.size(), 100);  // a quarter of the whole
  EXPECT_TRUE(torch::equal(a.train.inputs, b.train.inputs));
  EXPECT_TRUE(torch::equal(a.test.labels, b.test.labels));
  EXPECT_FALSE(torch::equal(a.train.inputs, c.train.inputs));
  EXPECT_EQ(a.train.inputs.sizes().slice(1), at::IntArrayRef(a.input.sample_shape));
  // Every class occurs, and no label lies outside the classes.
  EXPECT_EQ(std::get<0>(at::_unique(a.train.labels)).numel(), a.input.num_classes);
}

TEST_P(DataLoadingSynthetic, GeneratingLeavesTheGlobalGeneratorAlone) {
  DatasetConfig cfg;
  cfg.name = GetParam();
  torch::manual_seed(3);
  const at::Tensor before = torch::rand({4});
  torch::manual_seed(3);
  load_dataset(cfg, 9);
  EXPECT_TRUE(torch::equal(before, torch::rand({4})));
}

INSTANTIATE_TEST_SUITE_P(Sets, DataLoadingSynthetic, ::testing::Values("spirals", "blobs", "sequence"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST(DataLoadingSequence, EverySequenceHoldsTheWholeVocabularyAndTheClassIsTheFirstOfTokensZeroToThree) {
  DatasetConfig cfg;
  cfg.name = "sequence";
  cfg.synthetic_size = 200;
  const DataSplit split = load_dataset(cfg, 2);
  ASSERT_TRUE(split.input.tokens);
  ASSERT_EQ(split.train.inputs.scalar_type(), at::kLong);
  ASSERT_EQ(split.input.vocab, split.train.inputs.size(1));
  const at::Tensor sorted = std::get<0>(split.train.inputs.sort(1));
  EXPECT_TRUE(torch::equal(sorted, torch::arange(split.input.vocab).expand_as(sorted)));  // the order is all there is
  for (std::int64_t i = 0; i < split.train.size(); ++i) {
    const at::Tensor first = (split.train.inputs[i] < split.input.num_classes).nonzero()[0][0];
    EXPECT_EQ(split.train.labels[i].item<std::int64_t>(), split.train.inputs[i][first].item<std::int64_t>()) << i;
  }
}

TEST(DataLoadingFashionMnist, DebianPackageLoadsWhole) {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist")) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  DatasetConfig cfg;  // fashion-mnist at its default location
  const DataSplit split = load_dataset(cfg, 1);
  EXPECT_EQ(split.train.size(), 60000);
  EXPECT_EQ(split.test.size(), 10000);
  EXPECT_EQ(split.train.inputs.sizes().slice(1), at::IntArrayRef({1, 28, 28}));
  EXPECT_EQ(split.input.num_classes, 10);
  EXPECT_EQ(split.class_names.size(), 10u);
  EXPECT_EQ(std::get<0>(at::_unique(split.test.labels)).numel(), 10);
}

}  // namespace
}  // namespace ps
