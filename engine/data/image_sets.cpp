// File-backed image sets: MNIST-format directories (Fashion-MNIST included) and CIFAR-10.
#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "engine/data/file_bytes.h"
#include "engine/data/idx_format.h"
#include "engine/data/loaders.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

constexpr std::int64_t kCifarImageBytes = 3 * 32 * 32;
constexpr std::int64_t kCifarRecordBytes = 1 + kCifarImageBytes;

std::string join(const std::string& dir, const std::string& name) {
  return dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// `name` or `name.gz`, whichever exists (the raw file first).
std::string find_idx_file(const std::string& dir, const std::string& name) {
  const std::string raw = join(dir, name);
  if (is_regular_file(raw)) return raw;
  if (is_regular_file(raw + ".gz")) return raw + ".gz";
  throw DataError(raw, "no such file (nor " + name + ".gz)");
}

// Labels as int64, each checked against [0, classes).
at::Tensor checked_labels(const at::Tensor& raw, const std::string& path, int classes) {
  at::Tensor labels = raw.to(torch::kLong);
  if (labels.numel() == 0) return labels;
  at::Tensor bad = (labels >= classes).nonzero();
  if (bad.size(0) > 0) {
    const std::int64_t at_index = bad[0][0].item<std::int64_t>();
    throw DataError(path, "label " + std::to_string(labels[at_index].item<std::int64_t>()) + " at index " +
                              std::to_string(at_index) + " is out of range [0, " + std::to_string(classes) + ")");
  }
  return labels;
}

struct IdxPart {
  at::Tensor images;  // uint8 [N,H,W]
  at::Tensor labels;  // uint8 [N]
  std::string labels_path;
};

IdxPart read_idx_pair(const std::string& dir, const std::string& prefix) {
  const std::string images_path = find_idx_file(dir, prefix + "-images-idx3-ubyte");
  const std::string labels_path = find_idx_file(dir, prefix + "-labels-idx1-ubyte");
  IdxPart part{read_idx(images_path, 3), read_idx(labels_path, 1), labels_path};
  if (part.images.size(0) != part.labels.size(0))
    throw DataError(labels_path, "count mismatch: " + std::to_string(part.labels.size(0)) + " labels for " +
                                     std::to_string(part.images.size(0)) + " images in " + images_path);
  return part;
}

at::Tensor to_unit_floats(const at::Tensor& bytes) { return bytes.to(torch::kFloat32).div_(255.0f); }

}  // namespace

void require_directory(const std::string& dir, const std::string& hint) {
  if (!is_directory(dir)) throw DataError(dir, "no such directory" + (hint.empty() ? "" : " (" + hint + ")"));
}

DataSplit load_idx_directory(const std::string& dir, int fixed_classes) {
  IdxPart train = read_idx_pair(dir, "train");
  IdxPart test = read_idx_pair(dir, "t10k");
  if (!train.images.sizes().slice(1).equals(test.images.sizes().slice(1)))
    throw DataError(join(dir, "t10k-images-idx3-ubyte"),
                    "test images are " + std::to_string(test.images.size(1)) + "x" +
                        std::to_string(test.images.size(2)) + " but training images are " +
                        std::to_string(train.images.size(1)) + "x" + std::to_string(train.images.size(2)));

  int classes = fixed_classes;
  if (classes <= 0) {
    const int train_max = train.labels.numel() ? train.labels.max().item<int>() : 0;
    const int test_max = test.labels.numel() ? test.labels.max().item<int>() : 0;
    classes = std::max(2, std::max(train_max, test_max) + 1);
  }

  DataSplit split;
  split.train = {to_unit_floats(train.images).unsqueeze(1), checked_labels(train.labels, train.labels_path, classes)};
  split.test = {to_unit_floats(test.images).unsqueeze(1), checked_labels(test.labels, test.labels_path, classes)};
  split.input.sample_shape = {1, train.images.size(1), train.images.size(2)};
  split.input.num_classes = classes;
  return split;
}

namespace {

TensorDataset read_cifar_batches(const std::vector<std::string>& paths) {
  std::vector<at::Tensor> images, labels;
  for (const std::string& path : paths) {
    const std::vector<std::uint8_t> bytes = read_data_file(path);
    const auto size = static_cast<std::int64_t>(bytes.size());
    if (size == 0 || size % kCifarRecordBytes != 0)
      throw DataError(path, "size " + std::to_string(size) + " bytes is not a positive multiple of " +
                                std::to_string(kCifarRecordBytes) + " (1 label byte + 3072 image bytes per record)");
    at::Tensor records = torch::empty({size / kCifarRecordBytes, kCifarRecordBytes}, torch::kUInt8);
    std::memcpy(records.data_ptr<std::uint8_t>(), bytes.data(), bytes.size());
    labels.push_back(checked_labels(records.select(1, 0), path, 10));
    images.push_back(to_unit_floats(records.slice(1, 1)).view({-1, 3, 32, 32}));
  }
  return {torch::cat(images), torch::cat(labels)};
}

}  // namespace

DataSplit load_cifar10(const std::string& dir) {
  std::string root = dir;
  if (!is_regular_file(join(root, "test_batch.bin")) && is_directory(join(root, "cifar-10-batches-bin")))
    root = join(root, "cifar-10-batches-bin");  // the directory the official tarball unpacks to

  std::vector<std::string> train_files;
  for (int i = 1; i <= 5; ++i) train_files.push_back(join(root, "data_batch_" + std::to_string(i) + ".bin"));
  DataSplit split;
  split.train = read_cifar_batches(train_files);
  split.test = read_cifar_batches({join(root, "test_batch.bin")});
  split.input.sample_shape = {3, 32, 32};
  split.input.num_classes = 10;
  split.class_names = {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  return split;
}

}  // namespace ps
