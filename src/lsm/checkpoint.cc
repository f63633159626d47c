#include "lsm/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/aligned_buffer.h"
#include "lsm/filenames.h"
#include "lsm/wal_format.h"
#include "runtime/file_io.h"
#include "util/assert.h"
#include "util/log.h"

namespace ringdb::lsm {

VersionEdit CheckpointSnapshotEdit(const VersionState& captured, uint64_t next_file_number) {
  VersionState state = captured;
  SequenceNumber last_seq = state.last_sequence();
  for (int level = 0; level < kNumLevels; level++) {
    for (const FileMetaData& f : state.files(level)) last_seq = std::max(last_seq, f.largest_seq);
  }
  // Every WAL segment is numbered below next_file_number: with the log number there,
  // Apply drops every tracked segment, so Open of the checkpoint is owed none.
  VersionEdit fields;
  fields.SetLogNumber(next_file_number);
  fields.SetNextFileNumber(next_file_number);
  fields.SetLastSequence(last_seq);
  Status s = state.Apply(fields);
  RINGDB_ASSERT(s.ok());
  RINGDB_ASSERT(state.wals().empty());
  VersionEdit edit;
  state.EncodeSnapshot(&edit);
  return edit;
}

std::string EncodeCheckpointManifest(const VersionState& captured, uint64_t manifest_number) {
  std::string payload;
  CheckpointSnapshotEdit(captured, manifest_number + 1).EncodeTo(&payload);
  std::string bytes;
  WalWriteEncoder enc(manifest_number, 0, 0, &bytes);
  enc.AddMeta(payload);
  enc.FinishPadded();
  return bytes;
}

namespace {

// Creates dir/name (it must not exist) holding `bytes`; fsyncs it.
Status WriteNewFile(int dir_fd, const std::string& dir, const std::string& name,
                    std::string_view bytes) {
  const std::string path = dir + "/" + name;
  int fd = -1;
  Status s = rt::OpenAt(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644, &fd);
  if (!s.ok()) return s;
  s = rt::WriteFull(fd, bytes.data(), bytes.size(), 0, io::IoClass::kOther, path);
  if (s.ok()) s = rt::Fsync(fd, io::IoClass::kOther, path);
  Status c = rt::Close(fd, path);
  return s.ok() ? c : s;
}

// Copies table t into dst (a new file) through the descriptor the shard opened it with
// (O_DIRECT: an aligned buffer, aligned offsets; the last read ends short at EOF).
Status CopyTable(const TableHandle& t, int dst_fd, const std::string& dst_path) {
  if (t.fd < 0) return t.status.ok() ? Status::IOError(t.path + ": not open") : t.status;
  constexpr size_t kChunk = 1 << 20;
  static_assert(kChunk % io::AlignedBuffer::kAlignment == 0);
  io::AlignedBuffer buf(kChunk);
  uint64_t off = 0;
  while (off < t.file_size) {
    const uint64_t want = std::min<uint64_t>(kChunk, t.file_size - off);
    const size_t len = (want + t.dio_align - 1) / t.dio_align * t.dio_align;
    const ssize_t n = ::pread(t.fd, buf.data(), len, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "read " + t.path);
    if (static_cast<uint64_t>(n) < want) {
      return Status::Corruption(t.path + " ends at " + std::to_string(off + n) + ", but the " +
                                "MANIFEST records " + std::to_string(t.file_size) + " bytes");
    }
    Status s = rt::WriteFull(dst_fd, buf.data(), want, off, io::IoClass::kOther, dst_path);
    if (!s.ok()) return s;
    off += want;
  }
  return rt::Fsync(dst_fd, io::IoClass::kOther, dst_path);
}

// Links (or copies) table t from src_fd's directory into dst_fd's.
Status AddTable(const TableHandle& t, int src_fd, int dst_fd, const std::string& dst_dir,
                const CheckpointFileOptions& opt, CheckpointCounts* counts) {
  const std::string name = TableFileName(t.number);
  const std::string path = dst_dir + "/" + name;
  if (opt.before_file) {
    Status s = opt.before_file(path);
    if (!s.ok()) return s;
  }
  if (!opt.copy_tables && ::linkat(src_fd, name.c_str(), dst_fd, name.c_str(), 0) == 0) {
    counts->tables_linked++;
    counts->bytes_linked += t.file_size;
    return Status::OK();
  }
  // EXDEV, EPERM, no link support, or ENOENT: a compaction deleted the file after the
  // capture (its data is still reachable through the descriptor).
  if (!opt.copy_tables) {
    RINGDB_LOG_DEBUG("checkpoint: link %s: %s; copying it", path.c_str(), std::strerror(errno));
  }
  int fd = -1;
  Status s = rt::OpenAt(dst_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644, &fd);
  if (!s.ok()) return s;
  s = CopyTable(t, fd, path);
  Status c = rt::Close(fd, path);
  if (s.ok()) s = c;
  if (!s.ok()) return s;
  counts->tables_copied++;
  counts->bytes_copied += t.file_size;
  return Status::OK();
}

// Closes a descriptor when it leaves scope.
struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Status WriteShardCheckpoint(const ShardCheckpoint& cp, const std::string& dst_dir,
                            const CheckpointFileOptions& opt, CheckpointCounts* counts) {
  if (::mkdir(dst_dir.c_str(), 0755) != 0) return Status::FromErrno(errno, "mkdir " + dst_dir);
  FdCloser src, dst;
  Status s =
      rt::OpenAt(AT_FDCWD, cp.src_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, &src.fd);
  if (s.ok()) {
    s = rt::OpenAt(AT_FDCWD, dst_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, &dst.fd);
  }
  for (int level = 0; s.ok() && level < kNumLevels; level++) {
    for (const VersionFile& f : cp.version->files(level)) {
      s = AddTable(*f.table, src.fd, dst.fd, dst_dir, opt, counts);
      if (!s.ok()) break;
    }
  }
  auto create = [&](const std::string& name, std::string_view bytes) {
    if (opt.before_file) {
      Status h = opt.before_file(dst_dir + "/" + name);
      if (!h.ok()) return h;
    }
    return WriteNewFile(dst.fd, dst_dir, name, bytes);
  };
  if (s.ok()) s = create(ManifestFileName(cp.manifest_number), cp.manifest_bytes);
  // CURRENT as the engine writes it (a temp file renamed over it), so that no reader
  // sees a partial one.
  if (s.ok()) s = create(kCurrentTempFileName, EncodeCurrent(cp.manifest_number));
  if (s.ok()) s = rt::RenameAt(dst.fd, kCurrentTempFileName, kCurrentFileName);
  if (s.ok()) s = rt::Fsync(dst.fd, io::IoClass::kOther, dst_dir);
  return s;
}

}  // namespace ringdb::lsm
