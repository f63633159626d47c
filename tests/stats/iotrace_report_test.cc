// `ringdb-tool iotrace`: the summary of a real trace, the SVG (well-formed XML; and, where
// chromium is installed, rendered to a PNG), the command line.
#include "tools/iotrace_report.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/file_io.h"
#include "runtime/runtime.h"
#include "runtime/sync.h"
#include "stats_test_util.h"

namespace ringdb::stats_test {
namespace {

using tools::IotraceCommand;
using tools::IotraceOptions;
using tools::IotraceReport;

// Writes a trace with WAL writes and syncs, flush writes, concurrent user reads and a
// compaction read into `path`, through whichever backend this machine has.
void MakeTrace(const TempDir& dir, const std::string& path, uint32_t shards = 1) {
  rt::RuntimeOptions opt;
  opt.shards = shards;
  opt.spin_ns = 0;
  std::unique_ptr<rt::Runtime> rt;
  ASSERT_TRUE(rt::Runtime::Start(opt, &rt).ok());
  for (uint32_t shard = 0; shard < shards; shard++) {
    rt->SubmitTo(shard, [&, shard] {
      rt::Reactor* r = rt::CurrentReactor();
      const std::string trace = shards == 1 ? path : path + "." + std::to_string(shard);
      ASSERT_TRUE(r->StartIoTrace(trace, 64 << 10).ok());
      const std::string sst = dir.File(std::to_string(shard) + "-000012.sst");
      const std::string wal = dir.File(std::to_string(shard) + "-000011.wal");
      int sfd = -1, wfd = -1;
      ASSERT_TRUE(rt::OpenAt(AT_FDCWD, sst.c_str(), O_CREAT | O_RDWR, 0644, &sfd).ok());
      ASSERT_TRUE(rt::OpenAt(AT_FDCWD, wal.c_str(), O_CREAT | O_RDWR, 0644, &wfd).ok());
      std::vector<char> buf(64 << 10, 'q');
      for (int i = 0; i < 40; i++) {
        ASSERT_TRUE(rt::WriteFull(wfd, buf.data(), 512, i * 512ull, io::IoClass::kWal).ok());
        if (i % 8 == 7) {
          ASSERT_TRUE(rt::Fdatasync(wfd, io::IoClass::kWal).ok());
        }
      }
      for (int i = 0; i < 16; i++) {
        ASSERT_TRUE(
            rt::WriteFull(sfd, buf.data(), buf.size(), i * buf.size(), io::IoClass::kFlush).ok());
      }
      rt::WaitGroup wg;
      for (int f = 0; f < 8; f++) {
        wg.Add();
        r->Spawn([&, f] {
          std::vector<char> b(4096);
          for (int i = 0; i < 10; i++) {
            EXPECT_TRUE(rt::ReadFull(sfd, b.data(), b.size(), (f * 10 + i) * 4096ull,
                                     io::IoClass::kUserRead)
                            .ok());
          }
          wg.Done();
        });
      }
      wg.Wait();
      ASSERT_TRUE(rt::ReadFull(sfd, buf.data(), buf.size(), 0, io::IoClass::kCompactionRead).ok());
      rt::Close(sfd);
      rt::Close(wfd);
      ASSERT_TRUE(r->StopIoTrace().ok());
    });
  }
  rt->Stop();
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Tags balance and every element is closed: a minimal well-formedness check that needs
// nothing installed (the python check below is the thorough one).
bool TagsBalance(const std::string& xml, std::string* why) {
  std::vector<std::string> stack;
  for (size_t i = xml.find('<'); i != std::string::npos; i = xml.find('<', i + 1)) {
    const size_t end = xml.find('>', i);
    if (end == std::string::npos) {
      *why = "unterminated tag";
      return false;
    }
    const std::string tag = xml.substr(i + 1, end - i - 1);
    if (tag.empty()) {
      *why = "empty tag";
      return false;
    }
    if (tag[0] == '?' || tag[0] == '!') continue;
    if (tag.back() == '/') continue;
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (stack.empty() || stack.back() != name) {
        *why = "mismatched </" + name + ">";
        return false;
      }
      stack.pop_back();
      continue;
    }
    stack.push_back(tag.substr(0, tag.find_first_of(" \t\n")));
  }
  if (!stack.empty()) *why = "unclosed <" + stack.back() + ">";
  return stack.empty();
}

bool HaveCommand(const char* cmd) {
  const std::string c = std::string("command -v ") + cmd + " >/dev/null 2>&1";
  return std::system(c.c_str()) == 0;
}

TEST(IotraceReport, SummarizesClassesSizesDepthsMixAndFiles) {
  TempDir dir;
  const std::string trace = dir.File("IOTRACE");
  MakeTrace(dir, trace);
  IotraceOptions opt;
  opt.files = {trace};
  std::string text;
  Status s = IotraceReport(opt, &text, nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  for (const char* want :
       {"shard 0", "closed cleanly", "Per class", "wal", "flush", "user_read", "compaction_read",
        "Request sizes", "Queue depth at submit", "Read/write mix over time", "Busiest files",
        "0-000012.sst", "0-000011.wal", "p99.9"}) {
    EXPECT_NE(text.find(want), std::string::npos) << "missing '" << want << "' in\n" << text;
  }
  // 2 opens + 40 WAL writes + 5 syncs + 16 flush writes + 80 reads + 1 + 2 closes
  EXPECT_NE(text.find("Total: 146 I/Os"), std::string::npos) << text;
}

TEST(IotraceReport, SeveralShardsAreSummarizedTogether) {
  TempDir dir;
  const std::string trace = dir.File("IOTRACE");
  MakeTrace(dir, trace, 2);
  IotraceOptions opt;
  opt.files = {trace + ".0", trace + ".1"};
  std::string text, svg;
  Status s = IotraceReport(opt, &text, &svg);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_NE(text.find("Total: 292 I/Os"), std::string::npos) << text;
  EXPECT_NE(text.find("s1/1-000012.sst"), std::string::npos) << text;
  std::string why;
  EXPECT_TRUE(TagsBalance(svg, &why)) << why;
}

TEST(IotraceReport, SvgIsWellFormedXml) {
  TempDir dir;
  const std::string trace = dir.File("IOTRACE");
  MakeTrace(dir, trace);
  IotraceOptions opt;
  opt.files = {trace};
  std::string text, svg;
  ASSERT_TRUE(IotraceReport(opt, &text, &svg).ok());
  ASSERT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  for (const char* want : {"<circle", "<polyline", "latency (log scale)", "time (s)",
                           "mean queue depth at submit", "user_read", "#9467bd"}) {
    EXPECT_NE(svg.find(want), std::string::npos) << want;
  }
  std::string why;
  EXPECT_TRUE(TagsBalance(svg, &why)) << why;

  const std::string out = dir.File("trace.svg");
  {
    std::ofstream f(out, std::ios::binary);
    f << svg;
  }
  if (!HaveCommand("python3")) GTEST_SKIP() << "python3 not installed: XML parser check skipped";
  const std::string cmd =
      "python3 -c 'import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); "
      "sys.exit(0 if d.documentElement.tagName == \"svg\" else 3)' '" +
      out + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << "python3 xml.dom.minidom rejected " << out;
}

TEST(IotraceReport, ChromiumRendersTheSvg) {
  if (!HaveCommand("chromium")) {
    GTEST_SKIP() << "chromium not installed (apt-get install -y chromium): rendering check "
                    "skipped";
  }
  TempDir dir;
  const std::string trace = dir.File("IOTRACE");
  MakeTrace(dir, trace);
  IotraceOptions opt;
  opt.files = {trace};
  std::string text, svg;
  ASSERT_TRUE(IotraceReport(opt, &text, &svg).ok());
  const std::string in = dir.File("trace.svg");
  const std::string png = dir.File("trace.png");
  {
    std::ofstream f(in, std::ios::binary);
    f << svg;
  }
  // --no-sandbox: tests may run as root. A private profile keeps runs independent.
  const std::string cmd =
      "timeout 120 chromium --headless --no-sandbox --disable-gpu "
      "--hide-scrollbars --user-data-dir='" +
      dir.File("profile") + "' --window-size=1100,800 --screenshot='" + png + "' 'file://" + in +
      "' >'" + dir.File("chromium.log") + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  ASSERT_EQ(rc, 0) << "chromium failed:\n" << ReadFile(dir.File("chromium.log"));
  const std::string image = ReadFile(png);
  ASSERT_GT(image.size(), 1000u) << ReadFile(dir.File("chromium.log"));
  EXPECT_EQ(image.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

TEST(IotraceReport, CommandLine) {
  TempDir dir;
  const std::string trace = dir.File("IOTRACE");
  MakeTrace(dir, trace);
  const std::string svg = dir.File("out.svg");
  auto run = [](std::vector<std::string> args) {
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    return IotraceCommand(static_cast<int>(argv.size()), argv.data());
  };
  EXPECT_EQ(run({"iotrace"}), 2);
  EXPECT_EQ(run({"iotrace", "--bogus", trace}), 2);
  EXPECT_EQ(run({"iotrace", "--interval-ms", "x", trace}), 2);
  EXPECT_EQ(run({"iotrace", dir.File("missing")}), 1);
  EXPECT_EQ(run({"iotrace", "--interval-ms=5", "--svg", svg, trace}), 0);
  struct stat sb;
  ASSERT_EQ(stat(svg.c_str(), &sb), 0);
  EXPECT_GT(sb.st_size, 1000);
  // A damaged trace: summarized up to the damage, exit code 1.
  {
    const int fd = ::open(trace.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    char c = 0x5a;
    ASSERT_EQ(::pwrite(fd, &c, 1, 4096 + 10), 1);
    ::close(fd);
  }
  EXPECT_EQ(run({"iotrace", trace}), 1);
}

}  // namespace
}  // namespace ringdb::stats_test
