// get, put, delete, scan: one operation on a store through the public API, so they see
// and change exactly what an application would (recovery included).
#include <cstdio>
#include <memory>
#include <string>

#include "ringdb/db.h"
#include "tools/tool_commands.h"
#include "tools/tool_common.h"

namespace ringdb::tools {
namespace {

// Opens the store. Only put creates one; every other command needs an existing store
// (checked here first, so that a wrong path is reported as such and left untouched).
Status OpenStore(const KvArgs& a, bool create, std::unique_ptr<DB>* db) {
  if (a.db.empty()) return Status::InvalidArgument("no store given (--db=PATH)");
  if (!create) {
    Status s = CheckStoreDir(a.db);
    if (!s.ok()) return s;
  }
  Options opt;
  opt.path = a.db;
  opt.create_if_missing = create;
  opt.shards = create ? a.shards : 0;  // 0: the count recorded in OPTIONS
  // One operation needs little WAL space; the next Open reads the whole segment back.
  opt.wal_preallocate_bytes = 1 << 20;
  Status s = DB::Open(opt, db);
  if (s.IsBusy()) return BusyStatus(a.db, "the store is open in a running process");
  return s;
}

// Closes the store and folds Close's status into the command's.
int Finish(std::string_view command, std::unique_ptr<DB> db, Status s, int rc_if_ok = kExitOk) {
  Status c = db->Close();
  if (s.ok()) s = c;
  if (!s.ok()) return ReportError(command, s);
  return rc_if_ok;
}

// The smallest string greater than every string starting with `prefix`, or nullopt
// when there is none (the prefix is empty or all 0xff).
std::optional<std::string> PrefixSuccessor(std::string prefix) {
  while (!prefix.empty()) {
    unsigned char last = static_cast<unsigned char>(prefix.back());
    if (last != 0xff) {
      prefix.back() = static_cast<char>(last + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::nullopt;
}

}  // namespace

int CmdGet(const KvArgs& a, const std::string& key_arg) {
  std::string key;
  Status s = ParseBytesArg(key_arg, a.hex, "key", &key);
  if (!s.ok()) return ReportError("get", s);
  std::unique_ptr<DB> db;
  s = OpenStore(a, false, &db);
  if (!s.ok()) return ReportError("get", s);
  std::string value;
  s = db->Get(key, &value);
  if (s.IsNotFound()) {
    std::fprintf(stderr, "ringdb-tool get: %s: not found\n", FormatBytes(key, a.hex).c_str());
    return Finish("get", std::move(db), Status::OK(), kExitNotFound);
  }
  if (s.ok()) std::printf("%s\n", FormatBytes(value, a.hex).c_str());
  return Finish("get", std::move(db), s);
}

int CmdPut(const KvArgs& a, const std::string& key_arg, const std::string& value_arg) {
  std::string key, value;
  Status s = ParseBytesArg(key_arg, a.hex, "key", &key);
  if (s.ok()) s = ParseBytesArg(value_arg, a.hex, "value", &value);
  if (!s.ok()) return ReportError("put", s);
  std::unique_ptr<DB> db;
  s = OpenStore(a, true, &db);
  if (!s.ok()) return ReportError("put", s);
  s = db->Put(key, value);
  return Finish("put", std::move(db), s);
}

int CmdDelete(const KvArgs& a, const std::string& key_arg) {
  std::string key;
  Status s = ParseBytesArg(key_arg, a.hex, "key", &key);
  if (!s.ok()) return ReportError("delete", s);
  std::unique_ptr<DB> db;
  s = OpenStore(a, false, &db);
  if (!s.ok()) return ReportError("delete", s);
  s = db->Delete(key);
  return Finish("delete", std::move(db), s);
}

int CmdCheckpoint(const KvArgs& a, const std::string& to) {
  std::unique_ptr<DB> db;
  Status s = OpenStore(a, false, &db);
  if (!s.ok()) return ReportError("checkpoint", s);
  s = db->Checkpoint(to);
  return Finish("checkpoint", std::move(db), s);
}

int CmdScan(const KvArgs& a, const ScanArgs& sa) {
  ReadOptions ro;
  std::string from, to, prefix;
  Status s;
  if (sa.from) s = ParseBytesArg(*sa.from, a.hex, "--from", &from);
  if (s.ok() && sa.to) s = ParseBytesArg(*sa.to, a.hex, "--to", &to);
  if (s.ok() && sa.prefix) s = ParseBytesArg(*sa.prefix, a.hex, "--prefix", &prefix);
  if (!s.ok()) return ReportError("scan", s);
  // --prefix narrows [from, to) to [prefix, successor(prefix)).
  if (sa.from) ro.lower_bound = from;
  if (sa.to) ro.upper_bound = to;
  if (sa.prefix) {
    if (!ro.lower_bound || *ro.lower_bound < prefix) ro.lower_bound = prefix;
    std::optional<std::string> end = PrefixSuccessor(prefix);
    if (end && (!ro.upper_bound || *end < *ro.upper_bound)) ro.upper_bound = end;
  }
  std::unique_ptr<DB> db;
  s = OpenStore(a, false, &db);
  if (!s.ok()) return ReportError("scan", s);
  uint64_t n = 0;
  {
    std::unique_ptr<Iterator> it = db->NewIterator(ro);  // destroyed before Close
    if (it == nullptr) {
      return Finish("scan", std::move(db),
                    Status::NotSupported("DB::NewIterator returned no iterator: this build of "
                                         "the engine does not support scans yet"));
    }
    if (sa.reverse) {
      it->SeekToLast();
    } else {
      it->SeekToFirst();
    }
    for (; it->Valid() && (sa.limit == 0 || n < sa.limit); sa.reverse ? it->Prev() : it->Next()) {
      if (sa.prefix && !it->key().starts_with(prefix)) break;  // the bounds already ensure it
      if (sa.keys_only) {
        std::printf("%s\n", FormatBytes(it->key(), a.hex).c_str());
      } else {
        std::printf("%s ==> %s\n", FormatBytes(it->key(), a.hex).c_str(),
                    FormatBytes(it->value(), a.hex).c_str());
      }
      n++;
    }
    s = it->status();
  }
  return Finish("scan", std::move(db), s);
}

}  // namespace ringdb::tools
