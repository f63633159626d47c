// Conn: one client connection, run as a fiber on one shard for its whole life.
//
// Loop: read what the client sent, parse every complete command in it (a pipelined
// burst, up to kMaxBurst), turn keyed commands into ops grouped by the shard that owns
// each key, run every shard's group at once (the local one in place; another shard's
// group of reads only in place too, lock-free through what that shard published;
// any other group as one message over the SPSC rings), write the replies in command
// order into the output buffer, start sending, and read again. Commands that are not
// about keys (AUTH, HELLO, INFO, SCAN...) run in order between groups.
//
// Memory: the input buffer, the op list and the per-shard lists keep their capacity,
// so a warm connection allocates nothing per request. Arguments are views into the
// input buffer, which is compacted only between bursts.
//
// Backpressure: replies the client has not read are bounded by
// client-output-buffer-limit: past it the connection stops executing until the
// client reads (TCP then pushes back on the client's writes). Unparsed input is
// bounded by client-query-buffer-limit: past it the connection is closed.
//
// Thread ownership: the shard's thread. Ops travel to other shards during RunAll
// (store.h), and nothing here is touched until they come back.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/fiber.h"
#include "server/net.h"
#include "server/ops.h"
#include "server/resp.h"
#include "server/store.h"

namespace ringdb::server {

class Server;
class ShardServer;
struct CmdSpec;

// How a planned command's reply is made from its ops.
enum class Shape : uint8_t {
  kOp,     // the reply of its one op
  kArray,  // an array of its ops' replies (MGET)
  kSum,    // the sum of its ops' integers (DEL, EXISTS, UNLINK)
  kAllOk,  // +OK unless an op failed (MSET)
  kError,  // an error decided when planning (syntax, arity, NOAUTH)
};

struct PlannedCmd {
  Shape shape = Shape::kOp;
  uint32_t op_begin = 0;
  uint32_t op_count = 0;
  uint32_t err_off = 0;  // kError: text in Burst::errors
  uint32_t err_len = 0;
  bool counts_hits = false;  // GET-like: feeds keyspace_hits/misses
};

class Conn {
 public:
  Conn(ShardServer* shard, int fd, uint64_t id);
  ~Conn();

  // The fiber body: serves until the client leaves, the connection fails, or the
  // server stops. Frees nothing: the caller deletes the Conn afterwards.
  void Run();

  // ---- for command handlers (commands.cc) ----
  Server* server() const { return server_; }
  ShardServer* shard() const { return shard_; }
  Store* store() const { return store_; }
  Reply& reply() { return reply_; }
  uint64_t id() const { return id_; }
  int proto() const { return proto_; }
  void set_proto(int p) {
    proto_ = p;
    reply_.set_proto(p);
  }
  bool authenticated() const { return authenticated_; }
  void set_authenticated(bool a) { authenticated_ = a; }
  const std::string& name() const { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }
  const std::string& peer() const { return peer_; }
  uint64_t created_ms() const { return created_ms_; }
  uint64_t last_active_ms() const { return last_active_ms_; }
  const char* last_command() const { return last_cmd_; }
  // Closes the connection once the replies so far are sent (QUIT, protocol errors).
  void CloseAfterReply() { close_after_reply_ = true; }
  // Closes at once, without the replies (SHUTDOWN, CLIENT KILL).
  void CloseNow() { close_now_ = true; }

  // Planning keyed commands: a new op (fields reset) for key, owned by its shard.
  Op& AddOp(OpCode code, std::string_view key);
  // Records a planned command whose ops were added since op_begin.
  void AddPlanned(Shape shape, uint32_t op_begin, bool counts_hits = false);
  uint32_t ops_planned() const { return static_cast<uint32_t>(ops_used_); }
  // A planned error reply (in order with the planned commands).
  void AddError(std::string_view text);
  // Stable storage for an argument that is not a view into the input buffer.
  std::string_view Keep(std::string_view s);
  // Runs the planned commands and writes their replies (before a direct command).
  void RunPlanned();

  // ---- for the shard (housekeeping) ----
  void CancelRead();  // idle timeout, stop: a read in progress returns at once
  // Closes without sending what is left (a client that stopped reading, the end of a
  // stop's grace period).
  void Kill();
  bool reading() const { return reading_; }
  // Milliseconds since a send last made progress while replies are waiting (0: none
  // waiting).
  uint64_t SendStalledMs(uint64_t now_ms) const;
  Conn* next = nullptr;  // ShardServer's list
  Conn* prev = nullptr;

 private:
  bool ReadMore();
  void ProcessInput();
  void Dispatch(std::span<const std::string_view> args);
  void FlushOutput(bool wait);
  static void OnSent(void* arg);
  bool MakeRoom();
  uint64_t PendingOutput() const { return out_.size() + (sock_.sending() ? sending_.size() : 0); }
  static void RunShardList(void* arg);

  ShardServer* const shard_;
  Server* const server_;
  Store* const store_;
  const uint64_t id_;
  net::Socket sock_;
  std::string peer_;
  std::string name_;
  const char* last_cmd_ = "NULL";  // a command table name
  int proto_ = 2;
  bool authenticated_ = false;
  bool close_after_reply_ = false;
  bool close_now_ = false;
  bool reading_ = false;
  bool read_cancelled_ = false;
  bool need_more_ = true;        // the buffered input holds no complete command
  rt::Fiber* parked_ = nullptr;  // waiting in FlushOutput/backpressure for OnSent
  uint64_t send_progress_ms_ = 0;
  uint64_t created_ms_ = 0;
  uint64_t last_active_ms_ = 0;

  // Input: [in_start_, in_end_) is unparsed.
  std::unique_ptr<char[]> in_;
  size_t in_cap_ = 0;
  size_t in_start_ = 0;
  size_t in_end_ = 0;
  RespParser parser_;
  RespLimits limits_;

  // Output: out_ is being filled; sending_ is with the kernel (io_uring mode).
  std::string out_;
  std::string sending_;
  Reply reply_;

  // The planned part of the current burst.
  std::vector<Op> ops_;  // elements reused: their strings keep their capacity
  size_t ops_used_ = 0;
  std::vector<PlannedCmd> planned_;
  std::string errors_;
  std::deque<std::string> kept_;
  struct ShardList {
    Conn* conn = nullptr;
    uint32_t shard = 0;
    bool reads_only = true;  // every op of the list is a read (IsRead)
    std::vector<Op*> ops;
    std::vector<KeyRead> reads;  // ReadInPlace's scratch space
  };
  // Runs the planned ops: per shard, on the owner (this shard's in this fiber, the
  // others' as one message each over the rings), or reads of another shard in place.
  void RunOps();
  static void ReadShardList(void* arg);
  std::vector<ShardList> lists_;
  std::vector<ShardCall> calls_;
};

}  // namespace ringdb::server
