// ShardCall: a task an application thread hands to one shard, run there in a fresh
// fiber (so it may do I/O), with a waiter the application thread blocks on. Owned by
// the sender; after Notify() the shard never touches it again.
#pragma once

#include <functional>

#include "runtime/message.h"
#include "runtime/reactor.h"
#include "runtime/runtime.h"

namespace ringdb::db {

struct ShardCall : rt::Message {
  std::function<void()> fn;
  rt::ForeignWaiter waiter;

  explicit ShardCall(std::function<void()> f) : fn(std::move(f)) { handler = &OnShard; }

  static void OnShard(rt::Message* m, rt::Reactor* r) {
    r->Spawn(
        [m] {
          auto* c = static_cast<ShardCall*>(m);
          c->fn();
          c->waiter.Notify();  // last touch
        },
        "shard_call");
  }
};

}  // namespace ringdb::db
