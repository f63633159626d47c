// The queue of the test backends (FaultBackend, sim::SimBackend) that hold Prepare()d
// requests until Submit(): a FIFO linked through IoRequest::next_, taken apart one link
// chain at a time (io_backend.h: a request with kLinkNext is linked to the next one).
// Owner thread only, like the backend that holds it.
#pragma once

#include <cstdint>

#include "io/io_backend.h"

namespace ringdb::io {

class PreparedQueue {
 public:
  bool empty() const { return head_ == nullptr; }

  void Push(IoRequest* req) {
    req->next_ = nullptr;
    if (tail_ != nullptr) {
      tail_->next_ = req;
    } else {
      head_ = req;
    }
    tail_ = req;
  }

  // Detaches the first link chain: its members stay linked through next_, the last
  // one's next_ is null. Adds the chain's length to *n. REQUIRES: !empty().
  IoRequest* PopChain(uint64_t* n) {
    IoRequest* head = head_;
    IoRequest* last = head;
    ++*n;
    while ((last->flags & IoRequest::kLinkNext) != 0 && last->next_ != nullptr) {
      last = last->next_;
      ++*n;
    }
    head_ = last->next_;
    if (head_ == nullptr) tail_ = nullptr;
    last->next_ = nullptr;
    return head;
  }

 private:
  IoRequest* head_ = nullptr;  // Invariant: null exactly when tail_ is
  IoRequest* tail_ = nullptr;
};

}  // namespace ringdb::io
