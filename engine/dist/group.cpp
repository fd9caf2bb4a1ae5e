#include "engine/dist/group.h"

#include <ATen/Functions.h>
#include <link.h>
#include <sys/stat.h>
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "engine/config/config_fields.h"
#include "engine/util/errors.h"

namespace ps::dist {
namespace {

// Every preset field by its path: what the ranks compare (the preset file's own path may differ).
nlohmann::json config_fields_json(const RunConfig& cfg) {
  nlohmann::json j = nlohmann::json::object();
  for (const FieldSpec& f : run_config_fields()) j[f.path] = nlohmann::json::parse(f.write(cfg).dump());
  return j;
}

std::string hostname() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

std::vector<std::uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

// Waits for the keys, naming the ranks whose key is missing when the time is up.
void wait_for_ranks(c10d::Store& store, const std::string& what, int world, std::chrono::milliseconds timeout) {
  std::vector<std::string> keys;
  for (int r = 0; r < world; ++r) keys.push_back(what + std::to_string(r));
  try {
    store.wait(keys, timeout);
  } catch (const std::exception&) {
    std::string missing;
    for (int r = 0; r < world; ++r)
      if (!store.check({keys[static_cast<std::size_t>(r)]})) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
    throw std::runtime_error("rendezvous: rank(s) " + missing + " did not join within " +
                             std::to_string(timeout.count() / 1000) + " s (processes.timeout_seconds)");
  }
}

std::shared_ptr<::gloo::transport::Device> gloo_device(const DistOptions& o) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  // One host (a FileStore, or a master on loopback): loopback only, no port on the network.
  if (!o.store_file.empty() || o.master_addr == "127.0.0.1" || o.master_addr == "localhost")
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

int build_id_note(dl_phdr_info* info, size_t, void* out) {
  auto* id = static_cast<std::string*>(out);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const auto* p = reinterpret_cast<const std::uint8_t*>(info->dlpi_addr + ph.p_vaddr);
    const auto* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const auto* n = reinterpret_cast<const ElfW(Nhdr)*>(p);
      const auto* name = p + sizeof(ElfW(Nhdr));
      const auto* desc = name + ((n->n_namesz + 3) & ~3u);
      if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
        static const char* hex = "0123456789abcdef";
        for (unsigned k = 0; k < n->n_descsz; ++k) *id += {hex[desc[k] >> 4], hex[desc[k] & 15]};
        return 1;
      }
      p = desc + ((n->n_descsz + 3) & ~3u);
    }
  }
  return 1;  // the first object is the program itself: stop there
}

}  // namespace

std::string binary_version() {
  std::string id;
  dl_iterate_phdr(build_id_note, &id);
  if (!id.empty()) return "build-id " + id;
  struct stat st {};
  if (stat("/proc/self/exe", &st) == 0)
    return "size " + std::to_string(st.st_size) + " mtime " + std::to_string(static_cast<long long>(st.st_mtime));
  return "unknown";
}

struct Group::Impl {
  int rank = 0, world = 1;
  std::chrono::milliseconds timeout{30000};
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  std::vector<std::unique_ptr<std::mutex>> send_mu;  // per peer: a frame's header and payload stay together
  struct Receiving {
    std::mutex mu;
    c10::intrusive_ptr<c10d::Work> work;  // the receive in progress
    bool aborted = false;
  };
  std::vector<std::unique_ptr<Receiving>> recv;
  std::vector<std::string> who;  // per rank: "rank R, pid P on HOST"

  // Posts one receive and waits for it; false when aborted.
  bool receive(int peer, at::Tensor& into) {
    Receiving& r = *recv[static_cast<std::size_t>(peer)];
    c10::intrusive_ptr<c10d::Work> work;
    {
      std::lock_guard<std::mutex> lock(r.mu);
      if (r.aborted) return false;
      std::vector<at::Tensor> t{into};
      work = pg->recv(t, peer, 0);
      r.work = work;
    }
    // No timeout while idle: a neighbour may legitimately be quiet (rank 0 evaluating); a dead peer
    // closes its connection, and a hung one is caught by the waits of the link (processes.timeout_seconds).
    const bool done = work->wait(std::chrono::hours(24 * 365));
    std::lock_guard<std::mutex> lock(r.mu);
    r.work.reset();
    return done && !r.aborted;
  }
};

Group::Group(const DistOptions& o, const RunConfig& cfg, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  d.rank = o.rank;
  d.world = o.world;
  d.timeout = timeout;
  c10::intrusive_ptr<c10d::Store> base;
  try {
    if (!o.store_file.empty()) {
      base = c10::make_intrusive<c10d::FileStore>(o.store_file, o.world);
    } else {
      c10d::TCPStoreOptions so;
      so.port = static_cast<std::uint16_t>(o.master_port);
      so.isServer = o.rank == 0 && !o.agent_store;
      so.numWorkers = static_cast<std::size_t>(o.world);
      so.waitWorkers = false;
      so.timeout = timeout;
      base = c10::make_intrusive<c10d::TCPStore>(o.master_addr, so);
    }
  } catch (const std::exception& e) {
    const std::string where = o.store_file.empty() ? o.master_addr + ":" + std::to_string(o.master_port) : o.store_file;
    const bool serves = o.store_file.empty() && o.rank == 0 && !o.agent_store;
    throw InputError("rendezvous", !o.store_file.empty() ? "PIPESCOPE_STORE_FILE" : serves ? "MASTER_PORT" : "MASTER_ADDR",
                     (serves ? "cannot serve the store on " + where + " (is the port in use?): "
                             : "cannot reach the store at " + where + ": ") +
                         e.what());
  }
  base->setTimeout(timeout);
  if (!o.key_prefix.empty()) base = c10::make_intrusive<c10d::PrefixStore>(o.key_prefix, base);
  // The run token scopes every key: a process of another run never sees (or overwrites) this run's keys.
  d.store = c10::make_intrusive<c10d::PrefixStore>("pipescope/" + (o.token.empty() ? "default" : o.token) + "/", base);

  nlohmann::json hello{{"binary", o.binary.empty() ? binary_version() : o.binary}, {"token", o.token}, {"host", hostname()},
                       {"pid", static_cast<long long>(getpid())}, {"world", o.world}, {"config", config_fields_json(cfg)}};
  d.store->set("hello/" + std::to_string(o.rank), bytes_of(hello.dump()));
  wait_for_ranks(*d.store, "hello/", o.world, timeout);
  auto read = [&](int r) {
    const auto v = d.store->get("hello/" + std::to_string(r));
    return nlohmann::json::parse(std::string(v.begin(), v.end()));
  };
  for (int r = 0; r < o.world; ++r) {
    const nlohmann::json h = r == o.rank ? hello : read(r);
    d.who.push_back("rank " + std::to_string(r) + ", pid " + std::to_string(h.value("pid", 0LL)) + " on " +
                    h.value("host", std::string("?")));
  }
  // Every rank compares every other rank with rank 0, so that all of them refuse the same mismatch.
  const nlohmann::json ref = read(0);
  for (int r = 1; r < o.world; ++r) {
    const nlohmann::json other = r == o.rank ? hello : read(r);
    const std::string who = "rank " + std::to_string(r) + " (pid " + std::to_string(other.value("pid", 0LL)) + " on " +
                            other.value("host", std::string("?")) + ")";
    for (const char* field : {"token", "binary", "world"})
      if (other[field] != ref[field])
        throw InputError("rendezvous", field, who + " has " + other[field].dump() + ", rank 0 has " + ref[field].dump() +
                                                  (std::string(field) == "binary" ? ": every rank must run the same pipescope-cli build" : ""));
    for (const auto& [path, value] : ref["config"].items())
      if (!other["config"].contains(path) || other["config"][path] != value)
        throw InputError("rendezvous", path,
                         who + " runs " + path + " = " + (other["config"].contains(path) ? other["config"][path].dump() : "nothing") +
                             ", rank 0 runs " + value.dump() + ": every rank must run the same config");
  }

  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  options->devices.push_back(gloo_device(o));
  options->threads = 2;
  try {
    d.pg = c10::make_intrusive<c10d::ProcessGroupGloo>(d.store, o.rank, o.world, options);
  } catch (const std::exception& e) {
    throw std::runtime_error("rendezvous: the process group did not form: " + std::string(e.what()));
  }
  for (int r = 0; r < o.world; ++r) {
    d.send_mu.push_back(std::make_unique<std::mutex>());
    d.recv.push_back(std::make_unique<Impl::Receiving>());
  }
}

Group::~Group() = default;

int Group::rank() const { return impl_->rank; }
int Group::world() const { return impl_->world; }
std::string Group::describe(int rank) const { return impl_->who.at(static_cast<std::size_t>(rank)); }

void Group::send(int peer, FrameKind kind, std::int64_t key, const at::Tensor& payload) {
  Impl& d = *impl_;
  const std::int64_t n = payload.defined() ? payload.numel() : 0;
  at::Tensor header = at::empty({kHeaderWords}, at::TensorOptions().dtype(at::kLong));
  auto* h = header.data_ptr<std::int64_t>();
  h[0] = kFrameMagic, h[1] = static_cast<std::int64_t>(kind), h[2] = key, h[3] = n;
  std::lock_guard<std::mutex> lock(*d.send_mu[static_cast<std::size_t>(peer)]);
  try {
    std::vector<at::Tensor> t{header};
    d.pg->send(t, peer, 0)->wait();
    if (n > 0) {
      std::vector<at::Tensor> p{payload.contiguous()};
      d.pg->send(p, peer, 0)->wait();
    }
  } catch (const std::exception& e) {
    throw std::runtime_error("rank " + std::to_string(peer) + " did not take a message: " + e.what());
  }
}

std::optional<Frame> Group::recv(int peer) {
  Impl& d = *impl_;
  at::Tensor header = at::empty({kHeaderWords}, at::TensorOptions().dtype(at::kLong));
  try {
    if (!d.receive(peer, header)) return std::nullopt;
    const auto* h = header.data_ptr<std::int64_t>();
    if (h[0] != kFrameMagic || h[3] < 0)
      throw std::runtime_error("a malformed frame (not from this build of pipescope-cli)");
    Frame f;
    f.kind = static_cast<FrameKind>(h[1]);
    f.key = h[2];
    f.payload = at::empty({h[3]}, at::TensorOptions().dtype(at::kByte));
    if (h[3] > 0 && !d.receive(peer, f.payload)) return std::nullopt;
    return f;
  } catch (const std::exception& e) {
    throw std::runtime_error("lost rank " + std::to_string(peer) + ": " + e.what());
  }
}

void Group::abort_recv(int peer) {
  Impl::Receiving& r = *impl_->recv[static_cast<std::size_t>(peer)];
  std::lock_guard<std::mutex> lock(r.mu);
  r.aborted = true;
  if (r.work) r.work->abort();
}

}  // namespace ps::dist
