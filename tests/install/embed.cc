// An embedding program built only from what `meson install` puts in place and what
// `pkg-config --cflags --libs ringdb` says (tests/install/embed_test.sh).
#include <cstdio>
#include <memory>
#include <string>

#include "ringdb/db.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  ringdb::Options opt;
  opt.path = argv[1];
  opt.shards = 2;
  std::unique_ptr<ringdb::DB> db;
  ringdb::Status s = ringdb::DB::Open(opt, &db);
  if (s.ok()) s = db->Put("embedded", "works");
  std::string v;
  if (s.ok()) s = db->Get("embedded", &v);
  if (s.ok()) s = db->Close();
  if (!s.ok() || v != "works") {
    std::fprintf(stderr, "embed: %s (value '%s')\n", s.ToString().c_str(), v.c_str());
    return 1;
  }
  std::printf("embed: ok (%s)\n", db->io_backend().c_str());
  return 0;
}
