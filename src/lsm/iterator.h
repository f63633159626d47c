// InternalIterator: the cursor every sorted source in a shard exposes (memtable,
// data/index blocks, tables) so the engine can merge them. Keys are internal keys
// (dbformat.h) except where a class says otherwise.
//
// Thread ownership: the shard thread that created it. key()/value() views stay valid
// until the iterator moves or dies.
#pragma once

#include <string_view>

#include "ringdb/status.h"

namespace ringdb::lsm {

class InternalIterator {
 public:
  virtual ~InternalIterator() = default;

  virtual bool Valid() const = 0;
  virtual void SeekToFirst() = 0;
  virtual void SeekToLast() = 0;
  // Positions at the first entry >= target.
  virtual void Seek(std::string_view target) = 0;
  // REQUIRES: Valid().
  virtual void Next() = 0;
  virtual void Prev() = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  // Not ok after a corrupt block or a failed fetch; Valid() is then false.
  virtual Status status() const = 0;
};

}  // namespace ringdb::lsm
