#include "engine/dist/group.h"

#include <ATen/Functions.h>
#include <link.h>
#include <sys/stat.h>
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <nlohmann/json.hpp>

#include "engine/config/config_fields.h"
#include "engine/util/errors.h"
#include "engine/util/this_thread.h"

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

// Gloo's event loop (one thread per device) polls its sockets level-triggered and skips a socket whose
// pair another thread holds (the thread that posts a frame, while it writes it), so it spins through
// epoll_wait meanwhile, on the cores the stages compute on. Created at a lower priority (a thread
// inherits its creator's nice value), the loop yields to the stages and to the thread holding the pair.
// Measured: 600 steps of the 2-stage MLP as 2 processes, 4 runs each way: epoll_wait calls 259k-348k at
// nice 0, 76k-96k at nice 10; samples/s 5666-6005 against 6068-6188.
constexpr int kGlooLoopNice = 10;

std::shared_ptr<::gloo::transport::Device> lower_priority_device(const DistOptions& o, const std::string& name) {
  std::shared_ptr<::gloo::transport::Device> dev;
  std::exception_ptr failed;
  std::thread maker([&] {
    name_this_thread(name);  // Gloo's event loop, started here, takes this name
    try {
      lower_this_thread(kGlooLoopNice);
      dev = gloo_device(o);
    } catch (...) {
      failed = std::current_exception();
    }
  });
  maker.join();
  if (failed) std::rethrow_exception(failed);
  return dev;
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

// The frames from rank `from` to rank `to` go as Gloo messages with this tag: 0 from a lower rank to a
// higher one, 1 the other way. ProcessGroupGloo sends and receives a tag's messages on context
// (tag mod contexts), and the group has two: so the two directions between two ranks are two
// connections, each with its own lock and event loop. On one connection, a stage writing a 256 KiB
// activation held the pair's lock while its neighbour's gradient arrived, and Gloo's event loop, which
// skips a locked pair and polls again at once (level-triggered), spun through epoll_wait meanwhile: 470
// calls per step on the 2-stage MLP, and the gradient waited for the write.
inline int stream_tag(int from, int to) { return from < to ? 0 : 1; }

// Posted frames under way before the completion thread waits for them (Sending::due).
constexpr std::size_t kPostedBatch = 16;

struct Group::Impl {
  int rank = 0, world = 1;
  std::chrono::milliseconds timeout{30000};
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  struct Receiving {
    std::mutex mu;
    struct Posted {
      c10::intrusive_ptr<c10d::Work> work;
      at::Tensor buffer;  // kMessageBytes
    };
    std::deque<Posted> posted;  // the receives posted for this peer, oldest (the next message) first
    bool aborted = false;
  };
  std::vector<std::unique_ptr<Receiving>> recv;
  // Per peer: the Gloo sends under way, oldest first. A frame is handed to Gloo by the thread that posts
  // it: the peer keeps receives posted (wire.h; Gloo's sends wait for the matching receive), so the bytes
  // are written at once, without waking another thread on the way; when none is posted yet, Gloo's event
  // loop writes them once the peer is ready. The peer's completion thread waits for the sends to finish,
  // in order and in batches (Sending::due), keeping their buffers alive until then, and tells a send()
  // caller that its frame is taken.
  struct InFlight {
    c10::intrusive_ptr<c10d::Work> work;
    std::shared_ptr<std::promise<void>> done;  // send(): the caller waits on it; post(): none
  };
  struct Sending {
    std::mutex mu;  // also keeps a frame's messages together and frames in the order posted
    std::condition_variable cv;
    std::deque<InFlight> in_flight;
    bool stopping = false;
    std::string error;  // set once a frame could not be sent: every later one fails with it
    int waiters = 0;  // frames in flight whose send() caller waits
    bool draining = false;  // woken for a batch: waits for everything under way before it sleeps again
    std::thread thread;
    // Whether the completion thread has work now: a send() caller waits, or enough posted frames are
    // under way. Posted frames are waited for in batches: Gloo sends them without anybody waiting, and
    // waking this thread for every message cost the stage on that core a context switch each time
    // (keeping their buffers a little longer costs nothing: kPostedBatch frames at most). A batch is
    // waited for whole (draining): stopping at kPostedBatch - 1 woke the thread again at the next post,
    // once per message (a 2-stage MLP's rank: 760-860 wake-ups in 600 steps).
    bool due() const {
      return stopping || (!in_flight.empty() && (waiters > 0 || draining || in_flight.size() >= kPostedBatch));
    }
  };
  std::vector<std::unique_ptr<Sending>> out;
  std::mutex handler_mu;
  std::function<void(int, const std::string&)> on_error;
  std::vector<std::string> who;  // per rank: "rank R, pid P on HOST"

  // Sets the peer's error and fails every frame still under way (the caller holds s.mu); whether one
  // of them was posted (nobody waits on it, so the handler must hear of it).
  static bool fail_all(Sending& s, const std::string& why) {
    if (s.error.empty()) s.error = why;
    const auto failure = std::make_exception_ptr(std::runtime_error(why));
    bool posted = false;
    for (auto& f : s.in_flight) {
      if (f.done) f.done->set_exception(failure);
      else posted = true;
      f.work->abort();
    }
    s.in_flight.clear();
    s.waiters = 0;
    s.draining = false;
    return posted;
  }

  void completion_loop(int peer) {
    name_this_thread("ps-sent-rank" + std::to_string(peer));
    Sending& s = *out[static_cast<std::size_t>(peer)];
    for (;;) {
      InFlight f;
      {
        std::unique_lock<std::mutex> lock(s.mu);
        s.cv.wait(lock, [&] { return s.due(); });
        if (s.stopping) return;
        if (s.in_flight.size() >= kPostedBatch) s.draining = true;
        f = s.in_flight.front();
      }
      std::string why;
      try {
        f.work->wait();
      } catch (const std::exception& e) {
        why = "rank " + std::to_string(peer) + " did not take a message: " + e.what();
      }
      bool tell = false;
      {
        std::lock_guard<std::mutex> lock(s.mu);
        if (why.empty()) {
          // Not still in flight: failed or dropped meanwhile (fail_all, ~Group), its caller already told.
          if (!s.in_flight.empty() && s.in_flight.front().work == f.work) {
            s.in_flight.pop_front();
            if (s.in_flight.empty()) s.draining = false;
            if (f.done) {
              --s.waiters;
              f.done->set_value();
            }
          }
          continue;
        }
        if (s.stopping) return;  // closing: nobody is told
        tell = fail_all(s, why);
      }
      std::function<void(int, const std::string&)> handler;
      {
        std::lock_guard<std::mutex> lock(handler_mu);
        handler = on_error;
      }
      if (tell && handler) handler(peer, why);
      return;  // every later frame fails at once (s.error)
    }
  }

  // Hands a frame to Gloo (see Sending); throws when frames to this peer already failed or Gloo refuses.
  void start(int peer, FrameKind kind, std::int64_t key, const at::Tensor& payload, bool headroom,
             std::shared_ptr<std::promise<void>> done) {
    if (peer < 0 || peer >= world || peer == rank) throw std::logic_error("a frame to rank " + std::to_string(peer));
    Sending& s = *out[static_cast<std::size_t>(peer)];
    const at::Tensor bytes = payload.defined() ? payload.contiguous() : payload;
    if (headroom && (!bytes.defined() || bytes.numel() < kHeaderBytes || bytes.scalar_type() != at::kByte))
      throw std::logic_error("a frame without room for its header");
    const std::int64_t n = !bytes.defined() ? 0 : headroom ? bytes.numel() - kHeaderBytes : bytes.numel();
    const std::int64_t frame = kHeaderBytes + n, messages = frame_messages(n);
    // The frame's bytes in one run: the payload itself when it has room for the header, else a copy.
    at::Tensor whole = bytes;
    if (!headroom) {
      whole = at::empty({frame}, at::TensorOptions().dtype(at::kByte));
      if (n > 0) std::memcpy(whole.data_ptr<std::uint8_t>() + kHeaderBytes, bytes.data_ptr(), static_cast<std::size_t>(n));
    }
    const std::int64_t h[kHeaderWords] = {kFrameMagic, static_cast<std::int64_t>(kind), key, n, messages};
    std::memcpy(whole.data_ptr(), h, sizeof h);
    std::lock_guard<std::mutex> lock(s.mu);
    if (!s.error.empty()) throw std::runtime_error(s.error);
    if (s.stopping) throw std::runtime_error("this rank is closing its connections");
    try {
      for (std::int64_t i = 0; i < messages; ++i) {
        const std::int64_t at = i * kMessageBytes;
        std::vector<at::Tensor> message{whole.narrow(0, at, std::min(kMessageBytes, frame - at))};  // a view
        s.in_flight.push_back({pg->send(message, peer, stream_tag(rank, peer)), i + 1 == messages ? done : nullptr});
      }
      if (done) ++s.waiters;
    } catch (const std::exception& e) {
      const std::string why = "rank " + std::to_string(peer) + " did not take a message: " + e.what();
      fail_all(s, why);
      throw std::runtime_error(why);
    }
    if (s.due()) s.cv.notify_one();
  }

  // The next message from `peer` (a kMessageBytes buffer holding it); false when aborted. Before it
  // waits, kReceivesPosted receives are posted: the one just taken is replaced on the next call, once
  // the caller has handed its frame on (the others are still posted meanwhile).
  bool next_message(int peer, at::Tensor& message) {
    Receiving& r = *recv[static_cast<std::size_t>(peer)];
    const auto post = [&] {  // r.mu held
      Receiving::Posted p;
      p.buffer = at::empty({kMessageBytes}, at::TensorOptions().dtype(at::kByte));
      std::vector<at::Tensor> t{p.buffer};
      p.work = pg->recv(t, peer, stream_tag(peer, rank));
      r.posted.push_back(std::move(p));
    };
    Receiving::Posted next;
    {
      std::lock_guard<std::mutex> lock(r.mu);
      if (r.aborted) return false;
      while (static_cast<int>(r.posted.size()) < kReceivesPosted) post();
      next = r.posted.front();
    }
    // No timeout while idle: a neighbour may legitimately be quiet (rank 0 evaluating); a dead peer
    // closes its connection, and a hung one is caught by the waits of the link (processes.timeout_seconds).
    const bool done = next.work->wait(std::chrono::hours(24 * 365));
    std::lock_guard<std::mutex> lock(r.mu);
    if (!done || r.aborted) return false;
    r.posted.pop_front();
    message = std::move(next.buffer);
    return true;
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
  // One Gloo context per direction (stream_tag): each its own connection to every peer and its own
  // event loop.
  options->devices.push_back(lower_priority_device(o, "ps-gloo-up"));
  options->devices.push_back(lower_priority_device(o, "ps-gloo-down"));
  options->threads = 2;
  try {
    d.pg = c10::make_intrusive<c10d::ProcessGroupGloo>(d.store, o.rank, o.world, options);
  } catch (const std::exception& e) {
    throw std::runtime_error("rendezvous: the process group did not form: " + std::string(e.what()));
  }
  for (int r = 0; r < o.world; ++r) {
    d.recv.push_back(std::make_unique<Impl::Receiving>());
    d.out.push_back(std::make_unique<Impl::Sending>());
  }
  for (int r = 0; r < o.world; ++r)
    if (r != o.rank) d.out[static_cast<std::size_t>(r)]->thread = std::thread([&d, r] { d.completion_loop(r); });
}

// Whatever has not been sent is dropped (a finished run has sent everything it waits for: its last frames
// are sent with send(), which returns once they are taken); a send in progress is aborted.
Group::~Group() {
  for (auto& s : impl_->out) {
    std::lock_guard<std::mutex> lock(s->mu);
    s->stopping = true;
    for (auto& f : s->in_flight) {
      f.work->abort();
      if (f.done) f.done->set_exception(std::make_exception_ptr(std::runtime_error("this rank is closing its connections")));
    }
    s->in_flight.clear();
    s->cv.notify_all();
  }
  for (auto& s : impl_->out)
    if (s->thread.joinable()) s->thread.join();
}

int Group::rank() const { return impl_->rank; }
int Group::world() const { return impl_->world; }
std::string Group::describe(int rank) const { return impl_->who.at(static_cast<std::size_t>(rank)); }

void Group::send(int peer, FrameKind kind, std::int64_t key, const at::Tensor& payload) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> taken = done->get_future();
  impl_->start(peer, kind, key, payload, false, std::move(done));
  taken.get();  // rethrows why it could not be sent
}

void Group::post(int peer, FrameKind kind, std::int64_t key, const at::Tensor& payload, bool headroom) {
  impl_->start(peer, kind, key, payload, headroom, nullptr);
}

void Group::on_send_error(std::function<void(int peer, const std::string& why)> handler) {
  std::lock_guard<std::mutex> lock(impl_->handler_mu);
  impl_->on_error = std::move(handler);
}

std::optional<Frame> Group::recv(int peer) {
  Impl& d = *impl_;
  try {
    at::Tensor first;
    if (!d.next_message(peer, first)) return std::nullopt;
    std::int64_t h[kHeaderWords];
    std::memcpy(h, first.data_ptr(), sizeof h);
    const std::int64_t n = h[3];
    if (h[0] != kFrameMagic || n < 0 || h[4] != frame_messages(n))
      throw std::runtime_error("a malformed frame (not from this build of pipescope-cli)");
    Frame f;
    f.kind = static_cast<FrameKind>(h[1]);
    f.key = h[2];
    if (h[4] == 1 && 8 * n >= kMessageBytes) {
      f.payload = first.narrow(0, kHeaderBytes, n);  // most of the buffer: hand it over (a view, no copy)
      return f;
    }
    // A small frame is copied out of its buffer (the buffer goes); a large one is put together.
    f.payload = at::empty({n}, at::TensorOptions().dtype(at::kByte));
    auto* to = f.payload.data_ptr<std::uint8_t>();
    std::int64_t got = std::min(n, kMessageBytes - kHeaderBytes);
    if (got > 0) std::memcpy(to, first.data_ptr<std::uint8_t>() + kHeaderBytes, static_cast<std::size_t>(got));
    while (got < n) {
      at::Tensor more;
      if (!d.next_message(peer, more)) return std::nullopt;
      const std::int64_t k = std::min(n - got, kMessageBytes);
      std::memcpy(to + got, more.data_ptr(), static_cast<std::size_t>(k));
      got += k;
    }
    return f;
  } catch (const std::exception& e) {
    throw std::runtime_error("lost rank " + std::to_string(peer) + ": " + e.what());
  }
}

void Group::abort_recv(int peer) {
  Impl::Receiving& r = *impl_->recv[static_cast<std::size_t>(peer)];
  std::lock_guard<std::mutex> lock(r.mu);
  r.aborted = true;
  for (auto& p : r.posted) p.work->abort();
}

}  // namespace ps::dist
