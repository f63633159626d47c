// MergingIterator: one sorted view (InternalKeyComparator order) over many internal
// iterators: memtables, L0 tables and level iterators for reads; the inputs of a
// compaction. A binary heap of the children keeps each step O(log n) compares.
//
// Errors: a child that fails ends the merge. As soon as any child reports a non-ok
// status, the merging iterator turns invalid and status() returns that (first) error,
// so that neither a read nor a compaction silently skips the data of a broken child
// (a compaction that did would drop live entries and then delete its inputs).
//
// Duplicates: if two children hold the same internal key, both are yielded, the one
// from the lower child index first (engine sources never do: sequence numbers are
// unique). The order is total over (key, child index), so direction switches are
// exact even then, provided no single child holds a key twice.
//
// Thread ownership: the shard thread that created it, like its children.
#pragma once

#include <memory>
#include <vector>

#include "lsm/iterator.h"

namespace ringdb::lsm {

// Takes ownership of the children. Zero children give an empty iterator; one child is
// returned as is.
std::unique_ptr<InternalIterator> NewMergingIterator(
    std::vector<std::unique_ptr<InternalIterator>> children);

// An iterator over nothing, or one that only reports `status` (Valid() is false).
std::unique_ptr<InternalIterator> NewEmptyIterator(Status status = Status::OK());

}  // namespace ringdb::lsm
