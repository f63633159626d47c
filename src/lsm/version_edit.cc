#include "lsm/version_edit.h"

#include <algorithm>
#include <unordered_set>

#include "util/assert.h"
#include "util/coding.h"

namespace ringdb::lsm {

namespace {

// DO NOT CHANGE: on-disk (MANIFEST field tags).
enum Tag : uint32_t {
  kLogNumber = 1,
  kNextFileNumber = 2,
  kLastSequence = 3,
  kDeletedFile = 4,
  kNewFile = 5,
  kWalSegment = 6,
};

constexpr uint32_t kWalSealed = 1;  // DO NOT CHANGE: on-disk (wal_segment flags)

bool GetLevel(std::string_view* in, int* level) {
  uint32_t v;
  if (!util::GetVarint32(in, &v) || v >= static_cast<uint32_t>(kNumLevels)) return false;
  *level = static_cast<int>(v);
  return true;
}

bool GetInternalKey(std::string_view* in, std::string* key) {
  std::string_view s;
  ParsedInternalKey parsed;
  if (!util::GetLengthPrefixed(in, &s) || !ParseInternalKey(s, &parsed)) return false;
  key->assign(s);
  return true;
}

}  // namespace

void VersionEdit::EncodeTo(std::string* dst) const {
  if (log_number_) {
    util::PutVarint32(dst, kLogNumber);
    util::PutVarint64(dst, *log_number_);
  }
  if (next_file_number_) {
    util::PutVarint32(dst, kNextFileNumber);
    util::PutVarint64(dst, *next_file_number_);
  }
  if (last_sequence_) {
    util::PutVarint32(dst, kLastSequence);
    util::PutVarint64(dst, *last_sequence_);
  }
  for (const auto& [level, number] : deleted_files_) {
    RINGDB_ASSERT(level >= 0 && level < kNumLevels);
    util::PutVarint32(dst, kDeletedFile);
    util::PutVarint32(dst, static_cast<uint32_t>(level));
    util::PutVarint64(dst, number);
  }
  for (const auto& [level, f] : new_files_) {
    RINGDB_ASSERT(level >= 0 && level < kNumLevels);
    util::PutVarint32(dst, kNewFile);
    util::PutVarint32(dst, static_cast<uint32_t>(level));
    util::PutVarint64(dst, f.number);
    util::PutVarint64(dst, f.file_size);
    util::PutLengthPrefixed(dst, f.smallest);
    util::PutLengthPrefixed(dst, f.largest);
    util::PutVarint64(dst, f.smallest_seq);
    util::PutVarint64(dst, f.largest_seq);
  }
  for (const auto& [number, m] : wals_) {
    util::PutVarint32(dst, kWalSegment);
    util::PutVarint64(dst, number);
    util::PutVarint64(dst, m.synced_bytes);
    util::PutVarint64(dst, m.last_seq);
    util::PutVarint32(dst, m.sealed ? kWalSealed : 0);
  }
}

Status VersionEdit::DecodeFrom(std::string_view in) {
  Clear();
  InternalKeyComparator icmp;
  while (!in.empty()) {
    uint32_t tag;
    if (!util::GetVarint32(&in, &tag)) return Status::Corruption("version edit: bad tag");
    const char* bad = nullptr;
    uint64_t v;
    switch (tag) {
      case kLogNumber:
      case kNextFileNumber:
      case kLastSequence:
        if (!util::GetVarint64(&in, &v)) {
          bad = "counter";
        } else if (tag == kLogNumber) {
          log_number_ = v;
        } else if (tag == kNextFileNumber) {
          next_file_number_ = v;
        } else {
          last_sequence_ = v;
        }
        break;
      case kDeletedFile: {
        int level;
        if (!GetLevel(&in, &level) || !util::GetVarint64(&in, &v)) {
          bad = "deleted file";
        } else {
          deleted_files_.insert({level, v});
        }
        break;
      }
      case kNewFile: {
        int level;
        FileMetaData f;
        if (!GetLevel(&in, &level) || !util::GetVarint64(&in, &f.number) ||
            !util::GetVarint64(&in, &f.file_size) || !GetInternalKey(&in, &f.smallest) ||
            !GetInternalKey(&in, &f.largest) || !util::GetVarint64(&in, &f.smallest_seq) ||
            !util::GetVarint64(&in, &f.largest_seq) || icmp.Compare(f.smallest, f.largest) > 0 ||
            f.smallest_seq > f.largest_seq) {
          bad = "new file";
        } else {
          new_files_.emplace_back(level, std::move(f));
        }
        break;
      }
      case kWalSegment: {
        WalSegmentMeta m;
        uint32_t flags = 0;
        if (!util::GetVarint64(&in, &v) || !util::GetVarint64(&in, &m.synced_bytes) ||
            !util::GetVarint64(&in, &m.last_seq) || !util::GetVarint32(&in, &flags) ||
            (flags & ~kWalSealed) != 0) {
          bad = "wal segment";
        } else {
          m.sealed = (flags & kWalSealed) != 0;
          wals_[v] = m;
        }
        break;
      }
      default:
        return Status::Corruption("version edit: unknown tag " + std::to_string(tag));
    }
    if (bad != nullptr) return Status::Corruption(std::string("version edit: bad ") + bad);
  }
  return Status::OK();
}

std::string VersionEdit::DebugString() const {
  std::string r = "VersionEdit {";
  if (log_number_) r += " log_number=" + std::to_string(*log_number_);
  if (next_file_number_) r += " next_file=" + std::to_string(*next_file_number_);
  if (last_sequence_) r += " last_seq=" + std::to_string(*last_sequence_);
  for (const auto& [level, n] : deleted_files_) {
    r += " delete(L" + std::to_string(level) + " #" + std::to_string(n) + ")";
  }
  for (const auto& [level, f] : new_files_) {
    r += " add(L" + std::to_string(level) + " #" + std::to_string(f.number) + " " +
         std::to_string(f.file_size) + "B [" + DebugInternalKey(f.smallest) + " .. " +
         DebugInternalKey(f.largest) + "])";
  }
  for (const auto& [number, m] : wals_) {
    r += " wal(#" + std::to_string(number) + " synced=" + std::to_string(m.synced_bytes) +
         " last_seq=" + std::to_string(m.last_seq) + (m.sealed ? " sealed)" : ")");
  }
  return r + " }";
}

Status VersionState::Apply(const VersionEdit& edit) {
  InternalKeyComparator icmp;
  std::vector<FileMetaData> next[kNumLevels];
  for (int l = 0; l < kNumLevels; l++) next[l] = levels_[l];

  for (const auto& [level, number] : edit.deleted_files()) {
    auto& files = next[level];
    auto it = std::find_if(files.begin(), files.end(),
                           [n = number](const FileMetaData& f) { return f.number == n; });
    if (it == files.end()) {
      return Status::Corruption("version edit deletes file " + std::to_string(number) +
                                " which is not in level " + std::to_string(level));
    }
    files.erase(it);
  }
  std::unordered_set<uint64_t> live;
  for (const auto& files : next) {
    for (const auto& f : files) live.insert(f.number);
  }
  for (const auto& [level, f] : edit.new_files()) {
    if (!live.insert(f.number).second) {
      return Status::Corruption("version edit adds file " + std::to_string(f.number) +
                                " which is already live");
    }
    if (icmp.Compare(f.smallest, f.largest) > 0) {
      return Status::Corruption("version edit adds file " + std::to_string(f.number) +
                                " with smallest > largest");
    }
    next[level].push_back(f);
  }
  std::sort(next[0].begin(), next[0].end(), [](const FileMetaData& a, const FileMetaData& b) {
    return a.largest_seq != b.largest_seq ? a.largest_seq > b.largest_seq : a.number > b.number;
  });
  for (int l = 1; l < kNumLevels; l++) {
    auto& files = next[l];
    std::sort(files.begin(), files.end(), [&](const FileMetaData& a, const FileMetaData& b) {
      return icmp.Compare(a.smallest, b.smallest) < 0;
    });
    for (size_t i = 1; i < files.size(); i++) {
      if (icmp.Compare(files[i - 1].largest, files[i].smallest) >= 0) {
        return Status::Corruption(
            "version edit makes files " + std::to_string(files[i - 1].number) + " and " +
            std::to_string(files[i].number) + " overlap in level " + std::to_string(l));
      }
    }
  }
  std::map<uint64_t, WalSegmentMeta> wals = wals_;
  for (const auto& [number, m] : edit.wals()) {
    auto [it, fresh] = wals.try_emplace(number, m);
    if (fresh) continue;
    WalSegmentMeta& w = it->second;
    // A sealed segment never grows; a progress record may still arrive after the seal
    // (it was taken before), never beyond it.
    if (w.sealed &&
        (m.synced_bytes > w.synced_bytes || m.last_seq > w.last_seq ||
         (m.sealed && (m.synced_bytes != w.synced_bytes || m.last_seq != w.last_seq)))) {
      return Status::Corruption("version edit changes sealed wal segment " +
                                std::to_string(number));
    }
    w.synced_bytes = std::max(w.synced_bytes, m.synced_bytes);
    w.last_seq = std::max(w.last_seq, m.last_seq);
    w.sealed |= m.sealed;
  }
  for (int l = 0; l < kNumLevels; l++) levels_[l].swap(next[l]);
  if (edit.log_number()) log_number_ = std::max(log_number_, *edit.log_number());
  wals_.swap(wals);
  wals_.erase(wals_.begin(), wals_.lower_bound(log_number_));
  if (edit.next_file_number()) {
    next_file_number_ = std::max(next_file_number_, *edit.next_file_number());
  }
  if (edit.last_sequence()) last_sequence_ = std::max(last_sequence_, *edit.last_sequence());
  return Status::OK();
}

void VersionState::EncodeSnapshot(VersionEdit* edit) const {
  edit->Clear();
  edit->SetLogNumber(log_number_);
  edit->SetNextFileNumber(next_file_number_);
  edit->SetLastSequence(last_sequence_);
  for (int l = 0; l < kNumLevels; l++) {
    for (const auto& f : levels_[l]) edit->AddFile(l, f);
  }
  for (const auto& [number, m] : wals_) edit->AddWal(number, m);
}

size_t VersionState::NumFiles() const {
  size_t n = 0;
  for (const auto& files : levels_) n += files.size();
  return n;
}

uint64_t VersionState::LevelBytes(int level) const {
  uint64_t n = 0;
  for (const auto& f : levels_[level]) n += f.file_size;
  return n;
}

}  // namespace ringdb::lsm
