// Helpers for runtime tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <utility>

#include "runtime/reactor.h"

namespace ringdb::rt::testing {

// Runs fn in a fiber on a fresh reactor on the calling thread; returns when fn and
// every fiber it spawned have finished.
template <class F>
void RunInReactor(F&& fn, ReactorOptions opt = {}) {
  std::unique_ptr<Reactor> r;
  Status s = Reactor::Create(opt, &r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  r->Spawn(
      [&fn] {
        fn();
        CurrentReactor()->RequestStop();
      },
      "test-main");
  r->Run();
}

}  // namespace ringdb::rt::testing
