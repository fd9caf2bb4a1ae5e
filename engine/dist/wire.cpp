#include "engine/dist/wire.h"

#include <ATen/Functions.h>

#include <cstring>
#include <stdexcept>
#include <type_traits>

namespace ps::dist {
namespace {

static_assert(std::is_trivially_copyable_v<OpEvent> && std::is_trivially_copyable_v<TransferEvent> &&
                  std::is_trivially_copyable_v<MinibatchResult> && std::is_trivially_copyable_v<ChunkFigures>,
              "telemetry goes as raw bytes");

class Writer {
 public:
  // `headroom` bytes first (left for the frame header, Group::post), room for `expected` bytes after them.
  explicit Writer(std::size_t headroom = 0, std::size_t expected = 0) {
    bytes_->reserve(headroom + expected);
    bytes_->resize(headroom);
  }
  template <typename T>
  void put(const T& v) {
    raw(&v, sizeof(T));
  }
  void raw(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    bytes_->insert(bytes_->end(), b, b + n);
  }
  template <typename T>
  void list(const std::vector<T>& v) {
    put<std::int64_t>(static_cast<std::int64_t>(v.size()));
    raw(v.data(), v.size() * sizeof(T));
  }
  void text(const std::string& s) {
    put<std::int64_t>(static_cast<std::int64_t>(s.size()));
    raw(s.data(), s.size());
  }
  void tensor(const at::Tensor& t) {
    if (!t.defined()) {
      put<std::int64_t>(-1);
      return;
    }
    const at::Tensor c = t.detach().to(at::kCPU).contiguous();
    put<std::int64_t>(c.dim());
    put<std::int64_t>(static_cast<std::int64_t>(c.scalar_type()));
    for (std::int64_t s : c.sizes()) put<std::int64_t>(s);
    raw(c.data_ptr(), static_cast<std::size_t>(c.numel()) * c.element_size());
  }
  // The bytes as a tensor that owns them (no second copy).
  at::Tensor finish() {
    auto* owned = bytes_.release();
    return at::from_blob(
        owned->data(), {static_cast<std::int64_t>(owned->size())}, [owned](void*) { delete owned; },
        at::TensorOptions().dtype(at::kByte));
  }

 private:
  std::unique_ptr<std::vector<std::uint8_t>> bytes_ = std::make_unique<std::vector<std::uint8_t>>();
};

class Reader {
 public:
  explicit Reader(const at::Tensor& bytes)
      : bytes_(bytes), p_(static_cast<const std::uint8_t*>(bytes.data_ptr())), n_(static_cast<std::size_t>(bytes.numel())) {}
  template <typename T>
  T get() {
    T v;
    raw(&v, sizeof(T));
    return v;
  }
  void raw(void* out, std::size_t n) {
    if (at_ + n > n_) throw std::runtime_error("a truncated message between ranks");
    std::memcpy(out, p_ + at_, n);
    at_ += n;
  }
  template <typename T>
  std::vector<T> list() {
    std::vector<T> v(count(sizeof(T)));
    raw(v.data(), v.size() * sizeof(T));
    return v;
  }
  std::string text() {
    std::string s(count(1), '\0');
    raw(s.data(), s.size());
    return s;
  }
  at::Tensor tensor() {
    const auto dim = get<std::int64_t>();
    if (dim < 0) return {};
    const auto type = static_cast<at::ScalarType>(get<std::int64_t>());
    std::vector<std::int64_t> sizes(static_cast<std::size_t>(dim));
    for (auto& s : sizes) s = get<std::int64_t>();
    const auto options = at::TensorOptions().dtype(type);
    const std::size_t item = c10::elementSize(type);
    std::size_t numel = 1;
    for (auto s : sizes) numel *= static_cast<std::size_t>(s);
    // Aligned for its type (the fields before a tensor's bytes are whole words, and a received buffer
    // is allocated aligned): a view of the message's bytes, which it keeps alive. A receive buffer
    // belongs to one message, so nothing else writes there.
    if (at_ + numel * item <= n_ && reinterpret_cast<std::uintptr_t>(p_ + at_) % item == 0) {
      void* data = const_cast<std::uint8_t*>(p_ + at_);
      at_ += numel * item;
      return at::from_blob(data, sizes, [keep = bytes_](void*) {}, options);
    }
    at::Tensor t = at::empty(sizes, options);
    raw(t.data_ptr(), numel * item);
    return t;
  }

 private:
  std::size_t count(std::size_t each) {
    const auto k = get<std::int64_t>();
    if (k < 0 || static_cast<std::size_t>(k) * each > n_ - at_) throw std::runtime_error("a malformed message between ranks");
    return static_cast<std::size_t>(k);
  }
  at::Tensor bytes_;
  const std::uint8_t* p_;
  std::size_t n_, at_ = 0;
};

}  // namespace

at::Tensor pack_message(const Message& m, std::int64_t origin_ns, std::int64_t headroom) {
  std::size_t expected = 5 * sizeof(std::int64_t);
  for (const auto& t : m.tensors)
    if (t.defined()) expected += static_cast<std::size_t>(2 + t.dim()) * sizeof(std::int64_t) + t.nbytes();
  Writer w(static_cast<std::size_t>(headroom), expected);
  w.put<std::int64_t>(m.minibatch);
  w.put<std::int64_t>(m.micro);
  w.put<std::int64_t>(m.origin_version);
  w.put<std::int64_t>(origin_ns + m.sent_ns);
  w.put<std::int64_t>(static_cast<std::int64_t>(m.tensors.size()));
  for (const auto& t : m.tensors) w.tensor(t);
  return w.finish();
}

Message unpack_message(const at::Tensor& bytes, std::int64_t origin_ns) {
  Reader r(bytes);
  Message m;
  m.minibatch = static_cast<int>(r.get<std::int64_t>());
  m.micro = static_cast<int>(r.get<std::int64_t>());
  m.origin_version = r.get<std::int64_t>();
  m.sent_ns = r.get<std::int64_t>() - origin_ns;
  const auto n = r.get<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) m.tensors.push_back(r.tensor());
  return m;
}

at::Tensor pack_tensors(const std::vector<at::Tensor>& tensors) {
  Writer w;
  w.put<std::int64_t>(static_cast<std::int64_t>(tensors.size()));
  for (const auto& t : tensors) w.tensor(t);
  return w.finish();
}

std::vector<at::Tensor> unpack_tensors(const at::Tensor& bytes) {
  Reader r(bytes);
  std::vector<at::Tensor> out(static_cast<std::size_t>(r.get<std::int64_t>()));
  for (auto& t : out) t = r.tensor();
  return out;
}

at::Tensor pack_telemetry(const TelemetryPacket& p) {
  Writer w;
  w.put(p.origin_ns);
  w.list(p.ops);
  w.list(p.transfers);
  w.list(p.results);
  w.list(p.figures);
  w.list(p.result_seconds);
  w.put(p.status);
  w.text(p.error);
  return w.finish();
}

TelemetryPacket unpack_telemetry(const at::Tensor& bytes) {
  Reader r(bytes);
  TelemetryPacket p;
  p.origin_ns = r.get<std::int64_t>();
  p.ops = r.list<OpEvent>();
  p.transfers = r.list<TransferEvent>();
  p.results = r.list<MinibatchResult>();
  p.figures = r.list<ChunkFigures>();
  p.result_seconds = r.list<double>();
  p.status = r.get<std::int32_t>();
  p.error = r.text();
  return p;
}

at::Tensor pack_text(const std::string& text) {
  Writer w;
  w.text(text);
  return w.finish();
}

std::string unpack_text(const at::Tensor& bytes) {
  Reader r(bytes);
  return r.text();
}

at::Tensor pack_state(const std::string& json, const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  Writer w;
  w.text(json);
  w.put<std::int64_t>(static_cast<std::int64_t>(tensors.size()));
  for (const auto& [name, t] : tensors) {
    w.text(name);
    w.tensor(t);
  }
  return w.finish();
}

std::pair<std::string, std::vector<std::pair<std::string, at::Tensor>>> unpack_state(const at::Tensor& bytes) {
  Reader r(bytes);
  std::pair<std::string, std::vector<std::pair<std::string, at::Tensor>>> out;
  out.first = r.text();
  const auto n = r.get<std::int64_t>();
  if (n < 0) throw std::runtime_error("a malformed checkpoint part between ranks");
  for (std::int64_t i = 0; i < n; ++i) {
    std::string name = r.text();
    out.second.emplace_back(std::move(name), r.tensor());
  }
  return out;
}

}  // namespace ps::dist
