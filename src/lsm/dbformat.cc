#include "lsm/dbformat.h"

#include <cstdio>

#include "util/assert.h"

namespace ringdb::lsm {

namespace {

// Bytewise user-key shortening, as in LevelDB's BytewiseComparator.
void ShortestSeparatorUser(std::string* start, std::string_view limit) {
  size_t min_len = std::min(start->size(), limit.size());
  size_t diff = 0;
  while (diff < min_len && (*start)[diff] == limit[diff]) diff++;
  if (diff >= min_len) return;  // one is a prefix of the other
  uint8_t byte = static_cast<uint8_t>((*start)[diff]);
  if (byte < 0xff && byte + 1 < static_cast<uint8_t>(limit[diff])) {
    (*start)[diff] = static_cast<char>(byte + 1);
    start->resize(diff + 1);
  }
}

void ShortSuccessorUser(std::string* key) {
  for (size_t i = 0; i < key->size(); i++) {
    uint8_t byte = static_cast<uint8_t>((*key)[i]);
    if (byte != 0xff) {
      (*key)[i] = static_cast<char>(byte + 1);
      key->resize(i + 1);
      return;
    }
  }
}

}  // namespace

void InternalKeyComparator::FindShortestSeparator(std::string* start,
                                                  std::string_view limit) const {
  std::string_view user_start = ExtractUserKey(*start);
  std::string_view user_limit = ExtractUserKey(limit);
  std::string tmp(user_start);
  ShortestSeparatorUser(&tmp, user_limit);
  if (tmp.size() < user_start.size() && user_start.compare(tmp) < 0) {
    // The user key got shorter and larger: the earliest trailer keeps it below limit.
    AppendInternalKey(&tmp, "", kMaxSequenceNumber, kValueTypeForSeek);
    RINGDB_ASSERT(Compare(*start, tmp) < 0);
    RINGDB_ASSERT(Compare(tmp, limit) < 0);
    start->swap(tmp);
  }
}

void InternalKeyComparator::FindShortSuccessor(std::string* key) const {
  std::string_view user_key = ExtractUserKey(*key);
  std::string tmp(user_key);
  ShortSuccessorUser(&tmp);
  if (tmp.size() < user_key.size() && user_key.compare(tmp) < 0) {
    AppendInternalKey(&tmp, "", kMaxSequenceNumber, kValueTypeForSeek);
    RINGDB_ASSERT(Compare(*key, tmp) < 0);
    key->swap(tmp);
  }
}

LookupKey::LookupKey(std::string_view user_key, SequenceNumber seq) : seq_(seq) {
  RINGDB_ASSERT(seq <= kMaxSequenceNumber);
  char hdr[util::kMaxVarint32Bytes];
  char* end = util::EncodeVarint32(hdr, static_cast<uint32_t>(user_key.size() + kTrailerBytes));
  buf_.append(hdr, static_cast<size_t>(end - hdr));
  kstart_ = buf_.size();
  buf_.append(user_key.data(), user_key.size());
  char tag[kTrailerBytes];
  util::EncodeFixed64(tag, PackSequenceAndType(seq, kValueTypeForSeek));
  buf_.append(tag, sizeof(tag));
}

std::string EscapeBytes(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out.append(buf);
    }
  }
  return out;
}

// GCC 12 reports a false -Wrestrict on short string concatenations once inlined
// (GCC bug 105651); the code is plain std::string use.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wrestrict"
std::string DebugInternalKey(std::string_view ikey) {
  ParsedInternalKey p;
  if (!ParseInternalKey(ikey, &p)) return "(bad internal key) " + EscapeBytes(ikey);
  return "'" + EscapeBytes(p.user_key) + "' @ " + std::to_string(p.sequence) + " : " +
         std::to_string(static_cast<int>(p.type));
}
#pragma GCC diagnostic pop

}  // namespace ringdb::lsm
