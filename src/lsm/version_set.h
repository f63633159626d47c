// VersionSet: a shard's live tables and the MANIFEST that records them
// (docs/manifest.md). It owns the MANIFEST writer, the edit-level state (VersionState:
// what compaction picks from and what edits apply to) and the published, immutable
// Version built from it (what reads use).
//
// Every change is LogAndApply: the edit is appended to the MANIFEST (one 4 KiB-padded
// O_DIRECT write with a linked fdatasync), then applied, and only then does the new
// Version exist. When the MANIFEST grows past manifest_max_bytes, the next change
// starts a new one with a snapshot of the state (a rollover: CURRENT is replaced by
// write-temp, fsync, rename, directory fsync, and the old MANIFEST is deleted), so
// recovery replays a bounded log.
//
// Thread ownership: the shard thread; LogAndApply, Recover, WriteSnapshot and Close run
// in fibers and are serialized among themselves (flush and compaction both log edits).
// current() may be copied by any holder and read from any thread (version.h).
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lsm/filenames.h"
#include "lsm/table_cache.h"
#include "lsm/version.h"
#include "lsm/version_edit.h"
#include "ringdb/status.h"
#include "runtime/sync.h"

namespace ringdb::lsm {

struct VersionSetOptions {
  std::string dir;  // the shard directory
  uint32_t shard_id = 0;
  // Start a new MANIFEST (a snapshot of the state) once the current one is this big.
  uint64_t manifest_max_bytes = 4ull << 20;
};

class VersionSet {
 public:
  VersionSet(const VersionSetOptions& opt, int dir_fd, TableCache* tables);
  ~VersionSet();  // closes the MANIFEST's descriptor if Close() did not
  VersionSet(const VersionSet&) = delete;
  VersionSet& operator=(const VersionSet&) = delete;

  // The shard directory's descriptor, once the shard opened it (Recover).
  void set_dir_fd(int fd) { dir_fd_ = fd; }

  // (fiber) Reads CURRENT and the MANIFEST it names, replays every edit (a torn last
  // edit is dropped; a damaged one is Corruption; lsm/recovery_check.h), runs `check` on
  // the recovered state (the caller's checks against the directory), then opens every
  // live table (many at once).
  Status Recover(const std::set<uint64_t>& manifests_on_disk,
                 const std::function<Status(const VersionState&)>& check);
  // The MANIFEST's path (for messages).
  std::string ManifestPath() const { return PathOf(ManifestFileName(manifest_number_)); }
  // Applies an edit to the in-memory state without logging it (recovery: the table of
  // the replayed WAL, recorded by the snapshot that follows). REQUIRES: no MANIFEST
  // open for appending yet.
  Status ApplyUnlogged(const VersionEdit& edit, const std::vector<TableRef>& new_tables);
  // (fiber) Starts a new MANIFEST holding a snapshot of the state (with these log
  // number and last sequence), points CURRENT at it and deletes the previous one.
  Status WriteSnapshot(uint64_t log_number, SequenceNumber last_sequence);
  // (fiber) Appends `edit` to the MANIFEST (write + linked fdatasync), then installs
  // the state and Version it yields; `new_tables` are the opened tables the edit adds.
  // Tables the edit removes leave the table cache (readers holding them keep them).
  // On error the state is unchanged and the MANIFEST's tail is unknown: the caller
  // must turn the shard read-only (nothing more may be appended), except when
  // append_retryable() says the record's write itself failed.
  Status LogAndApply(VersionEdit* edit, const std::vector<TableRef>& new_tables);
  // The last failed LogAndApply failed in its record's write (not its fdatasync, not a
  // rollover): the kernel took none of it, or a prefix that no sync made durable, so
  // the MANIFEST is as before and a later append rewrites the same offset (DB::Resume).
  bool append_retryable() const { return append_retryable_; }
  // (fiber) Closes the MANIFEST through the backend.
  Status Close();

  // (fiber) The state, its Version and the next file number at one instant between
  // MANIFEST changes (taken under the lock LogAndApply holds; DB::Checkpoint).
  void Capture(VersionState* state, VersionPtr* version, uint64_t* next_file_number);

  const VersionState& state() const { return state_; }
  const VersionPtr& current() const { return current_; }
  uint64_t NewFileNumber() { return next_file_number_++; }
  uint64_t next_file_number() const { return next_file_number_; }
  // At least n (recovery: past every number found on disk).
  void AdvanceFileNumber(uint64_t n) { next_file_number_ = std::max(next_file_number_, n); }
  uint64_t manifest_number() const { return manifest_number_; }
  uint64_t manifest_bytes() const { return manifest_offset_; }
  uint64_t manifest_rollovers() const { return rollovers_; }
  // Whether CURRENT may name a MANIFEST created by this process (a rename was tried).
  bool current_replaced() const { return current_replaced_; }
  // The last MANIFEST this process created (0: none).
  uint64_t created_manifest() const { return created_manifest_; }
  bool IsLive(uint64_t number) const { return current_->Find(number) != nullptr; }

 private:
  Status ReadManifest(const std::string& name);
  std::string ShardName() const { return "shard " + std::to_string(opt_.shard_id); }
  Status OpenLiveTables();
  Status AppendRecord(const VersionEdit& edit);
  Status WriteCurrent(uint64_t manifest_number);
  // A Version of state_'s files, with the handles of current_ and `added`.
  VersionPtr Build(const std::vector<TableRef>& added) const;
  std::string PathOf(const std::string& name) const { return opt_.dir + "/" + name; }

  const VersionSetOptions opt_;
  int dir_fd_;
  TableCache* const tables_;
  VersionState state_;
  VersionPtr current_;
  uint64_t next_file_number_ = 1;
  uint64_t manifest_number_ = 0;
  int manifest_fd_ = -1;
  uint64_t manifest_offset_ = 0;
  uint64_t rollovers_ = 0;
  bool current_replaced_ = false;
  uint64_t created_manifest_ = 0;
  bool append_retryable_ = false;
  rt::Semaphore lock_{1};  // serializes MANIFEST changes across fibers
};

}  // namespace ringdb::lsm
