#include "engine/data/file_bytes.h"

#include <zlib.h>

#include <fstream>
#include <iterator>
#include <sys/stat.h>

#include "engine/util/errors.h"

namespace ps {
namespace {

bool is_gzip(const std::vector<std::uint8_t>& bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

// Inflates every gzip member in `packed` (gzip files may hold several, one after the other).
std::vector<std::uint8_t> gunzip(const std::string& path, const std::vector<std::uint8_t>& packed) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) throw DataError(path, "corrupt gzip stream: zlib failed to start");
  zs.next_in = const_cast<Bytef*>(packed.data());
  zs.avail_in = static_cast<uInt>(packed.size());

  std::vector<std::uint8_t> out;
  out.reserve(packed.size() * 4);
  std::vector<std::uint8_t> chunk(1 << 20);
  for (;;) {
    zs.next_out = chunk.data();
    zs.avail_out = static_cast<uInt>(chunk.size());
    const int rc = inflate(&zs, Z_NO_FLUSH);
    out.insert(out.end(), chunk.data(), chunk.data() + (chunk.size() - zs.avail_out));
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      inflateReset(&zs);  // another gzip member follows
      continue;
    }
    if (rc == Z_OK) continue;
    std::string why = rc == Z_BUF_ERROR ? "the stream ends before its end marker (truncated .gz file)"
                                        : (zs.msg ? zs.msg : "zlib error " + std::to_string(rc));
    inflateEnd(&zs);
    throw DataError(path, "corrupt gzip stream: " + why);
  }
  inflateEnd(&zs);
  return out;
}

}  // namespace

bool is_regular_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::vector<std::uint8_t> read_data_file(const std::string& path) {
  if (!is_regular_file(path)) throw DataError(path, "no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path, "cannot open the file for reading");
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw DataError(path, "read error");
  return is_gzip(bytes) ? gunzip(path, bytes) : bytes;
}

}  // namespace ps
