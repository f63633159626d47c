// Seeds of the `resp` fuzz target (fuzz_make_corpus): requests as clients send them.
#include "tests/fuzz/resp_seeds.h"

#include <cstdint>
#include <string_view>

namespace ringdb::fuzz {
namespace {

// prefix followed by n in decimal (GCC 12 raises a false -Wrestrict on
// `"literal" + std::to_string(n)`, GCC bug 105651).
std::string N(std::string_view prefix, uint64_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

// Values of sizes 0 to 119, as fuzz_make_corpus writes into the store.
std::string Value(int i) {
  std::string v = N("value-", static_cast<uint64_t>(i)) + "-";
  v.resize(static_cast<size_t>((i * 37) % 120), static_cast<char>('a' + i % 26));
  return v;
}

// A command as a multibulk frame, the way redis-cli and redis-benchmark send argv.
std::string Frame(const std::vector<std::string>& args) {
  std::string s = N("*", args.size()).append("\r\n");
  for (const std::string& a : args)
    s.append(N("$", a.size())).append("\r\n").append(a).append("\r\n");
  return s;
}

}  // namespace

std::vector<RespSeed> RespSeeds() {
  std::vector<RespSeed> out;
  out.push_back({"enc-set-get-del", Frame({"SET", "key:1", "hello"}) + Frame({"GET", "key:1"}) +
                                        Frame({"DEL", "key:1", "key:2"})});
  std::string pipeline;
  for (int i = 0; i < 100; i++) pipeline += Frame({"SET", N("key:", i), Value(i)});
  out.push_back({"enc-pipeline-100-sets", pipeline});
  std::vector<std::string> mset = {"MSET"};
  for (int i = 0; i < 20; i++) {
    mset.push_back(N("k", i));
    mset.push_back(N("v", i));
  }
  out.push_back({"enc-mset-20-pairs", Frame(mset)});
  std::string binary;
  for (int b = 0; b < 256; b++) binary.push_back(static_cast<char>(b));
  out.push_back({"enc-binary-key-and-value",
                 Frame({"SET", std::string("k\0\r\n*1\r\n", 8), binary + "\r\n$3\r\n" + binary})});
  out.push_back({"enc-empty-arguments", Frame({"SET", "", ""}) + Frame({"GET", ""})});
  out.push_back({"enc-empty-frames", "*0\r\n*-1\r\n\r\n   \r\n\n" + Frame({"PING"})});
  out.push_back({"enc-hello-3-auth", Frame({"HELLO", "3", "AUTH", "default", "secret"}) +
                                         Frame({"AUTH", "secret"}) + Frame({"GET", "k"})});
  // Inline commands, as typed into telnet or nc: Redis's quoting, LF or CRLF.
  out.push_back({"inline-commands",
                 "PING\r\nSET k \"a b\\x41\\n\\t\\\\\" 'it\\'s'\r\nGET k\nDEL k  k2\t k3\r\n"});
  out.push_back({"inline-then-multibulk", "SET a 1\r\n" + Frame({"GET", "a"}) + "GET a\r\n"});
  static const char kNul[] = "SET k v\0ignored\r\nPING\r\n";
  out.push_back({"inline-nul-ends-the-line", std::string(kNul, sizeof(kNul) - 1)});
  // The limits before AUTH: 11 arguments, a 16385-byte bulk.
  std::vector<std::string> eleven = {"MSET"};
  for (int i = 0; i < 10; i++) eleven.push_back(N("a", i));
  out.push_back({"limit-11-arguments", Frame(eleven)});
  out.push_back({"limit-bulk-16385", Frame({"SET", "k", std::string(16385, 'v')})});
  // What the errors are made of, each after a good command.
  const std::string ok = Frame({"PING"});
  const char* const errors[][2] = {
      {"error-count-not-a-number", "*abc\r\n"},
      {"error-count-over-int-max", "*2147483648\r\n"},
      {"error-count-leading-zero", "*01\r\n$1\r\na\r\n"},
      {"error-bulk-negative", "*1\r\n$-1\r\n"},
      {"error-bulk-over-the-limit", "*2\r\n$3\r\nSET\r\n$33554433\r\n"},
      {"error-not-a-bulk", "*1\r\n:4\r\n"},
      {"error-unbalanced-quotes", "SET k \"abc\r\n"},
      {"error-quote-then-letter", "SET k 'a'b\r\n"},
      {"tolerated-bad-crlf", "*1\r$4\nPINGxy*1\r\n$4\r\nPING\r\n"},
  };
  for (const auto& [name, bytes] : errors) out.push_back({name, ok + bytes});
  // Cut in the middle: the parser waits.
  const std::string set = Frame({"SET", "key", "a value that does not arrive"});
  out.push_back({"cut-in-a-bulk", ok + set.substr(0, set.size() - 10)});
  out.push_back({"cut-in-a-header", ok + set.substr(0, 10)});
  return out;
}

}  // namespace ringdb::fuzz
