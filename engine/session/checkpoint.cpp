#include "engine/session/checkpoint.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/runtime/stage.h"
#include "engine/telemetry/events.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

constexpr char kMagic[8] = {'P', 'S', 'C', 'K', 'P', 'T', '0', '1'};

struct Fnv {
  std::uint64_t h = 1469598103934665603ull;
  void add(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
};

class Writer {
 public:
  explicit Writer(std::FILE* f) : f_(f) {}
  void bytes(const void* data, std::size_t n) {
    fnv_.add(data, n);
    if (n && std::fwrite(data, 1, n, f_) != n) ok_ = false;
  }
  template <typename T>
  void pod(T v) {
    bytes(&v, sizeof v);
  }
  void str(const std::string& s) {
    pod<std::uint32_t>(static_cast<std::uint32_t>(s.size()));
    bytes(s.data(), s.size());
  }
  std::uint64_t hash() const { return fnv_.h; }
  bool ok() const { return ok_; }

 private:
  std::FILE* f_;
  Fnv fnv_;
  bool ok_ = true;
};

class Reader {
 public:
  Reader(const std::string& data, const std::string& path) : data_(data), path_(path) {}
  void bytes(void* out, std::size_t n, const char* what) {
    if (n > data_.size() - pos_)
      throw InputError(path_, what, "the file ends early (torn checkpoint: " + std::to_string(data_.size()) + " bytes)");
    std::memcpy(out, data_.data() + pos_, n);
    pos_ += n;
  }
  template <typename T>
  T pod(const char* what) {
    T v;
    bytes(&v, sizeof v, what);
    return v;
  }
  std::string str(std::size_t n, const char* what) {
    if (n > data_.size() - pos_) throw InputError(path_, what, "the file ends early (torn checkpoint)");
    std::string s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::size_t pos() const { return pos_; }

 private:
  const std::string& data_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

}  // namespace

void Checkpoint::put(const std::string& name, const at::Tensor& t) {
  if (t.defined()) tensors[name] = t;
}

void Checkpoint::put_list(const std::string& name, const std::vector<at::Tensor>& list) {
  meta["lists"][name] = list.size();
  for (std::size_t i = 0; i < list.size(); ++i) put(name + "/" + std::to_string(i), list[i]);
}

at::Tensor Checkpoint::get(const std::string& name) const {
  auto it = tensors.find(name);
  return it == tensors.end() ? at::Tensor() : it->second;
}

std::vector<at::Tensor> Checkpoint::get_list(const std::string& name) const {
  std::vector<at::Tensor> out;
  if (!meta.contains("lists") || !meta["lists"].contains(name)) return out;
  const std::size_t n = meta["lists"][name].get<std::size_t>();
  for (std::size_t i = 0; i < n; ++i) out.push_back(get(name + "/" + std::to_string(i)));
  return out;
}

void save_checkpoint(const std::string& path, const Checkpoint& ckpt) {
  const std::string tmp = path + ".tmp";
  std::error_code ec;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw std::runtime_error(path + ": cannot write the checkpoint: " + std::strerror(errno));
  Writer w(f);
  w.bytes(kMagic, sizeof kMagic);
  const std::string meta = ckpt.meta.dump();
  w.pod<std::uint64_t>(meta.size());
  w.bytes(meta.data(), meta.size());
  w.pod<std::uint64_t>(ckpt.tensors.size());
  for (const auto& [name, tensor] : ckpt.tensors) {
    const at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
    w.str(name);
    w.pod<std::int32_t>(static_cast<std::int32_t>(t.scalar_type()));
    w.pod<std::uint32_t>(static_cast<std::uint32_t>(t.dim()));
    for (std::int64_t d : t.sizes()) w.pod<std::int64_t>(d);
    const std::uint64_t n = static_cast<std::uint64_t>(t.numel()) * t.element_size();
    w.pod<std::uint64_t>(n);
    w.bytes(t.data_ptr(), n);
  }
  const std::uint64_t h = w.hash();
  const bool written = w.ok() && std::fwrite(&h, sizeof h, 1, f) == 1 && std::fflush(f) == 0;
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed) {
    std::filesystem::remove(tmp, ec);
    throw std::runtime_error(path + ": cannot write the checkpoint (disk full?)");
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw std::runtime_error(path + ": cannot move the checkpoint into place: " + ec.message());
}

Checkpoint load_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot open the checkpoint");
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() < sizeof kMagic || std::memcmp(data.data(), kMagic, sizeof kMagic) != 0)
    throw InputError(path, "", "not a PipeScope checkpoint (no PSCKPT01 header)");
  if (data.size() < sizeof kMagic + 8) throw InputError(path, "", "the file ends early (torn checkpoint)");
  // The checksum first: a torn or altered file is refused before anything is read from it.
  Fnv fnv;
  fnv.add(data.data(), data.size() - 8);
  std::uint64_t stored = 0;
  std::memcpy(&stored, data.data() + data.size() - 8, 8);
  if (stored != fnv.h) throw InputError(path, "", "the checksum does not match (torn or corrupt checkpoint)");

  const std::string body = data.substr(0, data.size() - 8);
  Reader r(body, path);
  char magic[8];
  r.bytes(magic, sizeof magic, "header");
  Checkpoint ckpt;
  ckpt.source = path;
  const auto meta_size = r.pod<std::uint64_t>("meta");
  try {
    ckpt.meta = nlohmann::json::parse(r.str(meta_size, "meta"));
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path, "meta", std::string("not valid JSON: ") + e.what());
  }
  const auto count = r.pod<std::uint64_t>("tensors");
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto name_size = r.pod<std::uint32_t>("tensor name");
    const std::string name = r.str(name_size, "tensor name");
    const auto dtype = r.pod<std::int32_t>(name.c_str());
    const auto dims = r.pod<std::uint32_t>(name.c_str());
    if (dims > 16) throw InputError(path, name, "implausible tensor rank " + std::to_string(dims));
    std::vector<std::int64_t> sizes(dims);
    std::int64_t numel = 1;
    for (auto& d : sizes) {
      d = r.pod<std::int64_t>(name.c_str());
      if (d < 0) throw InputError(path, name, "negative tensor size");
      numel *= d;
    }
    if (dtype < 0 || dtype >= static_cast<int>(c10::ScalarType::NumOptions))
      throw InputError(path, name, "unknown tensor type " + std::to_string(dtype));
    const auto type = static_cast<c10::ScalarType>(dtype);
    at::Tensor t = torch::empty(sizes, torch::TensorOptions().dtype(type));
    const auto n = r.pod<std::uint64_t>(name.c_str());
    if (n != static_cast<std::uint64_t>(numel) * t.element_size())
      throw InputError(path, name, "data size does not match the tensor's shape");
    r.bytes(t.data_ptr(), n, name.c_str());
    ckpt.tensors.emplace(name, std::move(t));
  }
  if (r.pos() != body.size()) throw InputError(path, "", "trailing bytes after the last tensor");
  return ckpt;
}

// Records of a session's state, as JSON (the tensors of messages go into the checkpoint by name).

nlohmann::json put_messages(Checkpoint& c, const std::deque<Message>& messages, const std::string& prefix) {
  nlohmann::json list = nlohmann::json::array();
  int n = 0;
  for (const Message& m : messages) {
    const std::string name = prefix + "/" + std::to_string(n++);
    list.push_back({{"minibatch", m.minibatch}, {"micro", m.micro}, {"origin", m.origin_version}, {"name", name}});
    c.put_list(name, m.tensors);
  }
  return list;
}

std::deque<Message> get_messages(const Checkpoint& c, const nlohmann::json& list) {
  std::deque<Message> out;
  for (const auto& j : list) {
    Message m;
    m.minibatch = j["minibatch"].get<int>();
    m.micro = j["micro"].get<int>();
    m.origin_version = j["origin"].get<std::int64_t>();
    m.tensors = c.get_list(j["name"].get<std::string>());
    out.push_back(std::move(m));
  }
  return out;
}

nlohmann::json step_json(const StepMetrics& m) {
  return {m.step, m.epoch, m.samples, m.train_loss, m.train_acc, m.lr, m.samples_per_second, m.wall_seconds};
}

StepMetrics step_from(const nlohmann::json& j) {
  StepMetrics m;
  m.step = j[0].get<std::int64_t>();
  m.epoch = j[1].get<int>();
  m.samples = j[2].get<std::int64_t>();
  m.train_loss = j[3].get<double>();
  m.train_acc = j[4].get<double>();
  m.lr = j[5].get<double>();
  m.samples_per_second = j[6].get<double>();
  m.wall_seconds = j[7].get<double>();
  return m;
}

nlohmann::json eval_json(const EvalMetrics& m) {
  return {m.step, m.epoch, m.test_loss, m.test_accuracy, m.wall_seconds};
}

EvalMetrics eval_from(const nlohmann::json& j) {
  EvalMetrics m;
  m.step = j[0].get<std::int64_t>();
  m.epoch = j[1].get<int>();
  m.test_loss = j[2].get<double>();
  m.test_accuracy = j[3].get<double>();
  m.wall_seconds = j[4].get<double>();
  return m;
}

nlohmann::json result_json(const MinibatchResult& r) { return {r.minibatch, r.loss, r.correct, r.count}; }

MinibatchResult result_from(const nlohmann::json& j) {
  MinibatchResult r;
  r.minibatch = j[0].get<std::int64_t>();
  r.loss = j[1].get<double>();
  r.correct = j[2].get<std::int64_t>();
  r.count = j[3].get<std::int64_t>();
  return r;
}

}  // namespace ps
