// IDX files (the MNIST format): a big-endian header, then unsigned bytes.
#include "engine/data/idx_format.h"

#include <cstdio>
#include <cstring>

#include "engine/data/dataset.h"
#include "engine/data/file_bytes.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

std::uint32_t big_endian32(const std::uint8_t* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}

std::string dims_text(const std::vector<std::int64_t>& dims) {
  std::string s;
  for (std::int64_t d : dims) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

std::string describe(int ndim) {
  return ndim == 1 ? "labels" : ndim == 3 ? "images" : std::to_string(ndim) + "-d array";
}

at::Tensor parse_idx(const std::string& path, const std::vector<std::uint8_t>& bytes, int expected_ndim) {
  if (bytes.size() < 4)
    throw DataError(path, "truncated: expected at least 4 bytes of IDX header, got " + std::to_string(bytes.size()));
  const std::uint32_t magic = big_endian32(bytes.data());
  const int ndim = bytes[3];
  const bool unsigned_bytes = bytes[0] == 0 && bytes[1] == 0 && bytes[2] == 0x08;
  const bool ndim_ok = expected_ndim > 0 ? ndim == expected_ndim : (ndim >= 1 && ndim <= 4);
  if (!unsigned_bytes || !ndim_ok) {
    const std::string expected = expected_ndim > 0
                                     ? hex32(0x800u + static_cast<std::uint32_t>(expected_ndim)) + " (" +
                                           describe(expected_ndim) + ")"
                                     : "0x00000801..0x00000804 (unsigned-byte IDX)";
    throw DataError(path, "bad magic number: expected " + expected + ", found " + hex32(magic));
  }

  const std::size_t header = 4 + 4 * static_cast<std::size_t>(ndim);
  if (bytes.size() < header)
    throw DataError(path, "truncated: expected at least " + std::to_string(header) + " bytes of IDX header, got " +
                              std::to_string(bytes.size()));
  std::vector<std::int64_t> dims;
  std::uint64_t count = 1;
  bool absurd = false;  // a corrupt header can announce more bytes than any file holds
  for (int d = 0; d < ndim; ++d) {
    const std::uint32_t dim = big_endian32(bytes.data() + 4 + 4 * d);
    dims.push_back(dim);
    if (dim != 0 && count > (std::uint64_t{1} << 48) / dim) absurd = true;
    else count *= dim;
  }
  if (absurd)
    throw DataError(path, "truncated: the header announces dimensions " + dims_text(dims) + ", more than " +
                              "any file holds; got " + std::to_string(bytes.size()) + " bytes");
  const std::size_t expected_bytes = header + count;
  if (bytes.size() < expected_bytes)
    throw DataError(path, "truncated: expected " + std::to_string(expected_bytes) + " bytes, got " +
                              std::to_string(bytes.size()));
  if (bytes.size() > expected_bytes)
    throw DataError(path, "trailing data: expected " + std::to_string(expected_bytes) + " bytes, got " +
                              std::to_string(bytes.size()));

  at::Tensor out = torch::empty(dims, torch::kUInt8);
  std::memcpy(out.data_ptr<std::uint8_t>(), bytes.data() + header, count);
  return out;
}

}  // namespace

at::Tensor read_idx(const std::string& path) { return parse_idx(path, read_data_file(path), 0); }

at::Tensor read_idx(const std::string& path, int expected_ndim) {
  return parse_idx(path, read_data_file(path), expected_ndim);
}

}  // namespace ps
