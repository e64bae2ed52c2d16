#include "strata/datasets/internal/file_io.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "strata/framework/core/error.h"

namespace strata {
namespace detail {

std::vector<uint8_t> read_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) throw Error(ErrorCode::kNotFound, "no such file", path, "check the path");
    throw_io(std::string("cannot stat: ") + std::strerror(err), path);
  }
  if (S_ISDIR(st.st_mode)) throw_invalid("is a directory, expected a data file", path);

  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw_io(std::string("cannot open: ") + std::strerror(errno), path);
  std::vector<uint8_t> bytes;
  bytes.reserve(static_cast<size_t>(st.st_size));
  // Read until EOF rather than trusting st_size: the file may change, or be a pipe.
  uint8_t buf[1 << 16];
  for (;;) {
    size_t got = std::fread(buf, 1, sizeof(buf), f.get());
    bytes.insert(bytes.end(), buf, buf + got);
    if (got < sizeof(buf)) {
      if (std::ferror(f.get())) throw_io(std::string("read failed: ") + std::strerror(errno), path);
      break;
    }
  }
  return bytes;
}

bool is_gzip(const std::vector<uint8_t>& bytes) { return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b; }

std::vector<uint8_t> gunzip(const std::vector<uint8_t>& in, const std::string& where) {
  // The gzip trailer stores the decompressed size mod 2^32 (ISIZE): a good first guess, so the
  // common single-member file inflates without reallocation. It is only a guess (a truncated
  // file ends in arbitrary bytes), hence the cap; the buffer doubles when it is too small.
  // +1 so that the end of the stream is seen with room to spare.
  size_t guess = in.size() * 4;
  if (in.size() >= 18) {
    const uint8_t* t = in.data() + in.size() - 4;
    const size_t isize = t[0] | t[1] << 8 | t[2] << 16 | static_cast<size_t>(t[3]) << 24;
    guess = std::min(isize, in.size() * 16);
  }
  guess = std::max(guess, size_t{1024}) + 1;
  std::vector<uint8_t> out(guess);

  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)  // 16: gzip wrapper only, with CRC check
    throw Error(ErrorCode::kInternal, "zlib inflateInit2 failed", where);
  struct Closer {
    z_stream* z;
    ~Closer() { inflateEnd(z); }
  } closer{&zs};

  size_t in_pos = 0, out_pos = 0;
  for (;;) {
    if (out_pos == out.size()) out.resize(out.size() * 2);
    // zlib counts in uInt; feed at most 1 GiB per call.
    const size_t in_chunk = std::min<size_t>(in.size() - in_pos, 1u << 30);
    const size_t out_chunk = std::min<size_t>(out.size() - out_pos, 1u << 30);
    zs.next_in = const_cast<Bytef*>(in.data() + in_pos);
    zs.avail_in = static_cast<uInt>(in_chunk);
    zs.next_out = out.data() + out_pos;
    zs.avail_out = static_cast<uInt>(out_chunk);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    in_pos += in_chunk - zs.avail_in;
    out_pos += out_chunk - zs.avail_out;
    if (rc == Z_STREAM_END) {
      // Another member may follow (concatenated gzip files are valid gzip).
      if (in_pos == in.size()) break;
      if (in.size() - in_pos >= 2 && in[in_pos] == 0x1f && in[in_pos + 1] == 0x8b) {
        inflateReset(&zs);
        continue;
      }
      throw_corruption("trailing garbage: " + std::to_string(in.size() - in_pos) + " bytes after the end of the gzip stream",
                       where);
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && zs.avail_out == 0) continue;  // output full: grow and go on
    if (rc == Z_BUF_ERROR && in_pos == in.size())
      throw_corruption("truncated gzip stream: input ended after " + std::to_string(in.size()) + " compressed bytes (" +
                           std::to_string(out_pos) + " decompressed) before the end of the stream",
                       where, "the file is incomplete; download or copy it again");
    const std::string reason = zs.msg ? zs.msg : "zlib error " + std::to_string(rc);
    throw_corruption("corrupt gzip data after " + std::to_string(in_pos) + " compressed bytes: " + reason, where,
                     "the file is damaged; download or copy it again");
  }
  out.resize(out_pos);
  return out;
}

std::vector<uint8_t> read_maybe_gzip(const std::string& path, bool* was_gzip) {
  std::vector<uint8_t> bytes = read_file(path);
  const bool gz = is_gzip(bytes);
  if (was_gzip) *was_gzip = gz;
  return gz ? gunzip(bytes, path) : bytes;
}

}  // namespace detail
}  // namespace strata
