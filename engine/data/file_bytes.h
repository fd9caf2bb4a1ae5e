// Reading whole data files into memory, gunzipping them when they are gzip streams. Internal.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ps {

// The file's bytes; a gzip stream (detected by its magic bytes 1f 8b, not by the name) comes back
// inflated. Throws DataError(path, "no such file" / "corrupt gzip stream: ...").
std::vector<std::uint8_t> read_data_file(const std::string& path);

// True when `path` names an existing regular file.
bool is_regular_file(const std::string& path);

}  // namespace ps
