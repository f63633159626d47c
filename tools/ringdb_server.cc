// ringdb-server: the Redis protocol on a ringdb store (docs/server.md).
//
//   ringdb-server --db /var/lib/ringdb --port 6379 [--durability sync|periodic|none] ...
//   ringdb-server /etc/ringdb/ringdb-server.conf [--port 7000]
//
// SIGTERM or SIGINT (or SHUTDOWN from a client) stops it: connections finish what they
// are executing and get their replies, then the store is closed (WAL synced) and the
// process exits 0.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "server/config.h"
#include "server/info.h"
#include "server/server.h"
#include "util/log.h"

namespace {

void SetLogLevel(const std::string& level) {
  using ringdb::util::LogLevel;
  if (level == "debug" || level == "verbose") {
    ringdb::util::SetLogLevel(LogLevel::kDebug);
  } else if (level == "warning" || level == "warn") {
    ringdb::util::SetLogLevel(LogLevel::kWarn);
  } else if (level == "error") {
    ringdb::util::SetLogLevel(LogLevel::kError);
  } else {
    ringdb::util::SetLogLevel(LogLevel::kInfo);
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ringdb::server;
  ServerConfig cfg;
  bool help = false, version = false;
  ringdb::Status s = ParseCommandLine(argc, argv, &cfg, &help, &version);
  if (help) {
    std::fputs(HelpText().c_str(), stdout);
    return 0;
  }
  if (version) {
    std::printf("ringdb-server %s (Redis protocol %s)\n", kRingdbVersion, kRedisCompatVersion);
    return 0;
  }
  if (!s.ok()) {
    std::fprintf(stderr, "ringdb-server: %s\n(ringdb-server --help lists the options)\n",
                 s.ToString().c_str());
    return 2;
  }
  if (cfg.db_path.empty()) {
    std::fprintf(stderr, "ringdb-server: no store directory: give --db PATH\n");
    return 2;
  }
  SetLogLevel(cfg.loglevel);

  // Every thread (the shards included) inherits this mask: the signals are taken by
  // the waiter thread below, never by a shard in the middle of its loop.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGUSR1);  // internal: wakes the waiter when the server stops by itself
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Server server(cfg);
  s = server.Start();
  if (!s.ok()) {
    RINGDB_LOG_ERROR("ringdb-server: cannot start: %s", s.ToString().c_str());
    return 1;
  }
  if (!cfg.pidfile.empty()) {
    std::ofstream pf(cfg.pidfile);
    pf << getpid() << "\n";
  }
  std::thread waiter([&server, &sigs] {
    int sig = 0;
    sigwait(&sigs, &sig);
    if (sig != SIGUSR1) {
      RINGDB_LOG_WARN("server: received %s, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    }
    server.RequestStop();
  });
  s = server.Run();
  pthread_kill(waiter.native_handle(), SIGUSR1);
  waiter.join();
  ringdb::Status c = server.Close();
  if (!cfg.pidfile.empty()) unlink(cfg.pidfile.c_str());
  if (!s.ok() || !c.ok()) {
    RINGDB_LOG_ERROR("ringdb-server: %s", (!s.ok() ? s : c).ToString().c_str());
    return 1;
  }
  RINGDB_LOG_INFO("server: store closed cleanly; bye");
  return 0;
}
