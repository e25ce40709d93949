// The RT extension RT::Extension::CloseLoop (manifests/request_tracker) inside a REAL Request
// Tracker 5 on 127.0.0.1: tests/rt/start-rt --extension installs it in a private plugin dir, loads
// its initialdata (custom fields, ScripAction, the five global scrips) and appends the
// $CloseLoopConfig this binary writes. One RT per process, because the site config differs
// between the doors; CTest runs the binary once per tag:
//   [settings]  the Perl settings validation and the bridge signature, without RT
//   [native]    libcloseloop.so loaded into RT's workers through FFI::Platypus
//   [bridge]    the scrip POSTs to a running `closeloop serve` (signed, ?apply=host)
// Everything is checked by reading RT back through REST2 and closeloop's SQLite store directly.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>
#include <nlohmann/json.hpp>

#include "common/crypto.hpp"
#include "common/http_client.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
namespace http = closeloop::adapters::http;
using json = nlohmann::json;
using namespace std::chrono_literals;

const std::string source_dir = CLOSELOOP_SOURCE_DIR;
const std::string closeloop_binary = CLOSELOOP_BINARY;
const std::string closeloop_library = CLOSELOOP_LIBRARY;
constexpr const char* tenant = "acme";
constexpr const char* host = "rt";
constexpr const char* bridge_secret = "rt bridge secret, 32 bytes long!";

// An angry, urgent billing message from a customer.
constexpr const char* urgent_billing =
    "I was charged twice on my invoice this month! This is urgent, refund the duplicate payment today. "
    "Terrible service, nobody answers my emails.";

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

// Runs a command through the shell; returns (exit status, stdout+stderr).
std::pair<int, std::string> run(const std::string& command) {
  std::string output;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) output.append(buf, n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f) FAIL("cannot write " << p);
}

std::string tail(const std::string& text, std::size_t lines = 15) {
  std::size_t pos = text.size();
  for (std::size_t n = 0; n <= lines && pos > 0; ++n) pos = text.rfind('\n', pos - 1);
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

// A port nothing listens on at the moment (bound, then released).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// ---------------------------------------------------------------------------------------------
// The environment of one process: a temp dir, closeloop's config and store, RT, maybe serve.

struct environment {
  std::string mode;  // native | bridge
  fs::path dir;
  fs::path config;  // closeloop's JSON config
  fs::path store;   // closeloop's SQLite file
  std::string rt_url, rt_token, rt_dir;
  long rt_pgid = 0;
  pid_t serve_pid = -1;
  int serve_port = 0;
  bool ready = false;  // RT (and serve) are up
};

std::optional<environment> env_;
std::atomic<long> running_rt_pgid{0};
std::atomic<long> running_serve_pid{0};

void on_fatal_signal(int sig) {
  // Only async-signal-safe calls: stop RT's process group and serve, then die of the same signal.
  if (const long pgid = running_rt_pgid.load(); pgid > 1) ::kill(static_cast<pid_t>(-pgid), SIGTERM);
  if (const long pid = running_serve_pid.load(); pid > 1) ::kill(static_cast<pid_t>(pid), SIGKILL);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void stop_all() {
  if (!env_) return;
  if (env_->serve_pid > 0) {
    ::kill(env_->serve_pid, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(env_->serve_pid, nullptr, WNOHANG) == env_->serve_pid) {
        env_->serve_pid = -1;
        break;
      }
      std::this_thread::sleep_for(50ms);
    }
    if (env_->serve_pid > 0) {
      ::kill(env_->serve_pid, SIGKILL);
      ::waitpid(env_->serve_pid, nullptr, 0);
    }
    env_->serve_pid = -1;
    running_serve_pid = 0;
  }
  if (!env_->rt_dir.empty()) {
    const auto [status, output] = run(shell_quote(source_dir + "/tests/rt/stop-rt") + " " + shell_quote(env_->rt_dir));
    if (status != 0) std::fprintf(stderr, "closeloop_rt_extension_tests: stop-rt failed: %s\n", output.c_str());
    running_rt_pgid = 0;
  }
  if (std::getenv("CLOSELOOP_KEEP_TMP") == nullptr) {
    std::error_code ec;
    fs::remove_all(env_->dir, ec);
  } else {
    std::fprintf(stderr, "closeloop_rt_extension_tests: kept %s\n", env_->dir.c_str());
  }
  env_.reset();
}

json closeloop_config(const environment& e, int rt_port) {
  json rt_host = {{"id", host},
                  {"vendor", "request_tracker"},
                  {"base_url", "http://127.0.0.1:" + std::to_string(rt_port)},
                  // start-rt's root password: known before RT runs (its token is not).
                  {"auth", {{"user", "root"}, {"password", "password"}}},
                  {"webhook_secret", bridge_secret}};
  return {{"log_level", "info"},
          {"server", {{"listen", "127.0.0.1"}, {"port", 0}, {"threads", 2}}},
          {"store", {{"path", e.store.string()}}},
          {"worker", {{"enabled", true}, {"poll_interval_ms", 100}}},
          {"tenants", json::array({{{"id", tenant},
                                    {"hosts", json::array({rt_host})},
                                    {"policy",
                                     {// An hour: the survey stays scheduled (and cancellable) for the whole test.
                                      {"survey", {{"enabled", true}, {"kind", "csat"}, {"delay_s", 3600}}},
                                      {"write_fields", true},
                                      {"explain_in_note", true}}},
                                    {"categories",
                                     {{"billing", {"invoice", "refund", "charged", "payment", "退款", "發票"}},
                                      {"outage", {"down", "outage", "error 500"}},
                                      {"account", {"password", "login"}}}}}})}};
}

void start_serve(environment& e) {
  const fs::path port_file = e.dir / "serve.port";
  std::vector<std::string> argv = {closeloop_binary, "serve", "--config",    e.config.string(),
                                   "--port",         "0",     "--port-file", port_file.string()};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, (e.dir / "serve.out").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, (e.dir / "serve.err").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) FAIL("cannot spawn " << closeloop_binary << ": " << std::strerror(rc));
  e.serve_pid = pid;
  running_serve_pid = pid;
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  for (;;) {
    const std::string text = read_text(port_file);
    if (!text.empty() && text.back() == '\n') {
      e.serve_port = std::stoi(text);
      return;
    }
    if (::waitpid(pid, nullptr, WNOHANG) == pid) {
      e.serve_pid = -1;
      running_serve_pid = 0;
      FAIL("closeloop serve exited before listening:\n" << read_text(e.dir / "serve.err"));
    }
    if (std::chrono::steady_clock::now() > deadline)
      FAIL("closeloop serve wrote no port file within 15 s:\n" << read_text(e.dir / "serve.err"));
    std::this_thread::sleep_for(20ms);
  }
}

// The extension's settings as Perl, for start-rt --extension.
std::string extension_config(const environment& e) {
  std::ostringstream pl;
  pl << "Plugin('RT::Extension::CloseLoop');\n";
  if (e.mode == "native") {
    pl << "Set($CloseLoopConfig, { mode => 'native', library => '" << closeloop_library << "', config_file => '"
       << e.config.string() << "', tenant => '" << tenant << "', host => '" << host << "', timeout => 5 });\n";
  } else {
    pl << "Set($CloseLoopConfig, { mode => 'bridge', bridge_url => 'http://127.0.0.1:" << e.serve_port << "/webhooks/"
       << tenant << "/" << host << "', bridge_secret => '" << bridge_secret << "', tenant => '" << tenant
       << "', host => '" << host << "', timeout => 5 });\n";
  }
  return pl.str();
}

// Starts (once per process) RT with the extension in the given mode, and serve for bridge.
const environment& setup(const std::string& mode) {
  if (env_) {
    if (env_->mode != mode) FAIL("this process already runs RT in mode " << env_->mode);
    if (!env_->ready) FAIL("RT with the extension could not be started (see the first failure)");
    return *env_;
  }
  std::string base = "/dev/shm";
  if (::access(base.c_str(), W_OK) != 0) base = "/tmp";
  std::string templ = base + "/closeloop-rt-ext.XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) FAIL("cannot create a directory under " << base);
  env_.emplace();
  environment& e = *env_;
  e.mode = mode;
  e.dir = templ;
  e.config = e.dir / "closeloop.json";
  e.store = e.dir / "closeloop.db";

  const auto t0 = std::chrono::steady_clock::now();
  std::string output;
  int status = -1;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const int rt_port = free_port();
    write_text(e.config, closeloop_config(e, rt_port).dump(2));
    if (mode == "bridge" && e.serve_pid < 0) start_serve(e);
    write_text(e.dir / "extension.pl", extension_config(e));
    const fs::path rt_dir = e.dir / ("rt" + std::to_string(attempt));
    std::tie(status, output) =
        run(shell_quote(source_dir + "/tests/rt/start-rt") + " --port " + std::to_string(rt_port) + " --extension " +
            shell_quote((e.dir / "extension.pl").string()) + " " + shell_quote(rt_dir.string()));
    if (status == 0) {
      e.rt_dir = rt_dir.string();
      break;
    }
    // The port was taken between free_port() and start-rt: pick another. (serve re-reads nothing:
    // the RT base_url only matters to its worker, which has nothing due during these tests.)
    if (output.find("already in use") == std::string::npos) break;
  }
  const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (status != 0)
    FAIL("tests/rt/start-rt --extension failed (exit " << status << ") after " << secs << " s:\n" << output);

  std::map<std::string, std::string> kv;
  std::istringstream in(read_text(fs::path(e.rt_dir) / "rt.env"));
  for (std::string line; std::getline(in, line);) {
    if (auto eq = line.find('='); eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  e.rt_url = kv["RT_URL"];
  e.rt_token = kv["RT_TOKEN"];
  e.rt_pgid = std::atol(kv["RT_PGID"].c_str());
  running_rt_pgid = e.rt_pgid;
  if (e.rt_url.empty() || e.rt_token.empty()) FAIL("start-rt succeeded but rt.env is unreadable:\n" << output);
  std::fprintf(stderr, "closeloop_rt_extension_tests: RT %s (%s) started in %.1f s (dir %s)\n", e.rt_url.c_str(),
               mode.c_str(), secs, e.dir.c_str());
  e.ready = true;
  return e;
}

std::string rt_log() { return env_ ? tail(read_text(fs::path(env_->rt_dir) / "rt-server.log"), 20) : ""; }

// ---------------------------------------------------------------------------------------------
// REST2 and the store

json rest(const std::string& method, const std::string& path, const json* body = nullptr, int expect = 0) {
  http::client c;
  http::request req;
  req.method = method;
  req.url = env_->rt_url + "/REST/2.0" + path;
  req.headers = {{"authorization", "token " + env_->rt_token}, {"accept", "application/json"}};
  if (body) {
    req.headers.emplace_back("content-type", "application/json");
    req.body = body->dump();
  }
  auto r = c.send(req, 20s);
  if (!r) FAIL(method << " " << path << ": " << r.err().message);
  INFO(method << " " << path << " -> " << r->status << " " << r->body << "\nrt-server.log:\n" << rt_log());
  if (expect != 0)
    REQUIRE(r->status == expect);
  else
    REQUIRE(r->status / 100 == 2);
  return json::parse(r->body);
}

// A ticket from a customer (Requestor), through REST2.
std::string create_ticket(const std::string& subject, const std::string& content) {
  json t = {{"Queue", "General"},
            {"Subject", subject},
            {"Requestor", "alice@example.com"},
            {"Content", content},
            {"ContentType", "text/plain"}};
  return rest("POST", "/ticket", &t, 201).at("id").get<std::string>();
}

void set_status(const std::string& id, const std::string& status) {
  json s = {{"Status", status}};
  rest("PUT", "/ticket/" + id, &s);
}

void correspond(const std::string& id, const std::string& text) {
  json m = {{"Content", text}, {"ContentType", "text/plain"}};
  rest("POST", "/ticket/" + id + "/correspond", &m, 201);
}

std::vector<std::string> cf_values(const json& ticket, const std::string& name) {
  for (const auto& cf : ticket.at("CustomFields")) {
    if (cf.at("name") == name) return cf.at("values").get<std::vector<std::string>>();
  }
  return {"<custom field " + name + " not on the ticket>"};
}

struct txn_text {
  std::string id, type, creator, text;
};

// The ticket's Comment/Correspond transactions with their text/plain content.
std::vector<txn_text> messages(const std::string& id) {
  std::vector<txn_text> out;
  json page = rest("GET", "/ticket/" + id + "/history?per_page=100&fields=Type,Creator");
  for (const auto& t : page.at("items")) {
    const std::string type = t.at("Type").get<std::string>();
    if (type != "Comment" && type != "Correspond") continue;
    txn_text m{t.at("id").get<std::string>(), type, t.at("Creator").value("id", ""), ""};
    json atts = rest("GET", "/transaction/" + m.id + "/attachments?fields=Content,ContentType");
    for (const auto& a : atts.at("items")) {
      if (a.value("ContentType", "") == "text/plain") m.text += a.value("Content", "");
    }
    out.push_back(std::move(m));
  }
  return out;
}

class store_view {
 public:
  store_view() : db_(env_->store.string(), SQLite::OPEN_READONLY, 5000) {}
  std::vector<std::string> column(const std::string& sql, const std::string& ticket) {
    SQLite::Statement q(db_, sql);
    q.bind(1, ticket);
    std::vector<std::string> out;
    while (q.executeStep()) out.push_back(q.getColumn(0).getString());
    return out;
  }
  std::vector<std::string> events(const std::string& t) {
    return column("SELECT type FROM events WHERE ticket_id = ? ORDER BY seq", t);
  }
  std::vector<std::string> outbox(const std::string& t, const std::string& type) {
    return column("SELECT status FROM outbox WHERE ticket_id = ? AND type = '" + type + "' ORDER BY id", t);
  }
  std::vector<std::string> survey_timers(const std::string& t) {
    return column("SELECT status FROM timers WHERE ticket_id = ? AND kind = 'survey' ORDER BY id", t);
  }

 private:
  SQLite::Database db_;
};

using strings = std::vector<std::string>;

// ---------------------------------------------------------------------------------------------
// The checks both doors must pass

// (a) A customer's urgent billing ticket is classified inside RT's own request.
std::string check_create(const std::string& mode) {
  setup(mode);
  const std::string id = create_ticket("Charged twice (" + mode + ")", urgent_billing);

  // Immediately: the scrip ran in the POST's request.
  json t = rest("GET", "/ticket/" + id);
  INFO("ticket " << id << ": " << t.dump() << "\nrt-server.log:\n" << rt_log());
  CHECK(std::stoi(t.at("Priority").get<std::string>()) > 0);
  CHECK(cf_values(t, "Category") == strings{"billing"});
  CHECK(cf_values(t, "Language") == strings{"en"});
  CHECK(cf_values(t, "Sentiment") == strings{"negative"});
  CHECK(cf_values(t, "Priority reason").size() == 1);

  // One internal comment explaining why, by RT_System; our own comment is not sent back.
  const auto msgs = messages(id);
  std::vector<txn_text> notes;
  for (const auto& m : msgs) {
    if (m.type == "Comment") notes.push_back(m);
  }
  REQUIRE(notes.size() == 1);
  CHECK_THAT(notes[0].text, Catch::StartsWith("closeloop:"));
  CHECK_THAT(notes[0].text, Catch::Contains("billing"));
  // The note names the level in Chinese too: UTF-8 survives the library/serve, Perl and RT.
  CHECK_THAT(notes[0].text, Catch::Contains("(紧急)") || Catch::Contains("(重大)"));
  CHECK(notes[0].creator == "RT_System");

  // The comment carries the action's idempotency key in the transaction CF "closeloop key".
  json txn = rest("GET", "/transaction/" + notes[0].id);
  std::string key;
  for (const auto& cf : txn.value("CustomFields", json::array())) {
    if (cf.value("name", "") == "closeloop key" && !cf.at("values").empty()) key = cf.at("values")[0];
  }
  CHECK_THAT(key, Catch::StartsWith(std::string(tenant) + "/" + host + "/" + id + "/txn:"));

  store_view db;
  CHECK(db.events(id) == strings{"ticket.created"});
  // Applied by the host in its request: recorded as such, never executed again by a worker.
  CHECK(db.outbox(id, "set_priority") == strings{"applied"});
  CHECK(db.outbox(id, "set_fields") == strings{"applied"});
  CHECK(db.outbox(id, "add_internal_note") == strings{"applied"});

  // UTF-8 end to end (payload, result, CF values, the note): a Simplified Chinese ticket.
  const std::string zh = create_ticket("重复扣款 (" + mode + ")", "我的账单被重复扣款了，请尽快退款！");
  json tz = rest("GET", "/ticket/" + zh);
  INFO("ticket " << zh << ": " << tz.dump());
  CHECK(cf_values(tz, "Category") == strings{"billing"});
  CHECK(cf_values(tz, "Language") == strings{"zh-Hans"});
  return id;
}

// (b) store side: resolve schedules the survey; resolve then reopen cancels it.
void check_survey(const std::string& mode) {
  setup(mode);
  const std::string first = create_ticket("Invoice question (" + mode + ")", "Where can I download my invoice?");
  correspond(first, "You can download it under Billing > Invoices.");
  set_status(first, "resolved");
  {
    store_view db;
    INFO("rt-server.log:\n" << rt_log());
    CHECK(db.outbox(first, "schedule_survey") == strings{"done"});
    CHECK(db.survey_timers(first) == strings{"pending"});
    const auto events = db.events(first);
    CHECK(std::count(events.begin(), events.end(), "ticket.solved") == 1);
  }

  const std::string second = create_ticket("Refund (" + mode + ")", "Please refund my last payment.");
  set_status(second, "resolved");
  {
    store_view db;
    REQUIRE(db.survey_timers(second) == strings{"pending"});
  }
  set_status(second, "open");
  CHECK(rest("GET", "/ticket/" + second).at("Status") == "open");
  store_view db;
  INFO("rt-server.log:\n" << rt_log());
  CHECK(db.survey_timers(second) == strings{"cancelled"});
  CHECK(db.outbox(second, "cancel_survey") == strings{"done"});
  CHECK(db.events(second).back() == "ticket.reopened");
  // The first ticket's survey is untouched.
  CHECK(db.survey_timers(first) == strings{"pending"});
}

// Runs `perl` with RT's and the extension's lib dirs and a logger that prints "log <level>:
// <message>" lines; returns (status, stdout+stderr).
std::pair<int, std::string> perl(const std::string& code) {
  const std::string prelude =
      "package StubLogger; sub new { bless {}, shift } our $AUTOLOAD;"
      " sub AUTOLOAD { my $l = $AUTOLOAD; $l =~ s/.*:://; return if $l eq 'DESTROY'; print \"log $l: $_[1]\\n\" }"
      " package main; $RT::Logger = StubLogger->new;\n";
  return run("perl -I/usr/share/request-tracker5/lib -I" + shell_quote(source_dir + "/manifests/request_tracker/lib") +
             " -MRT -MRT::Extension::CloseLoop -e " + shell_quote(prelude + code));
}

// The bridge call of the extension, from Perl: prints "ok" or "error: <message>".
std::pair<int, std::string> perl_bridge_call(const std::string& url, const std::string& secret) {
  return perl("my ($r, $e) = RT::Extension::CloseLoop->_call_bridge({ bridge_url => q{" + url +
              "}, bridge_secret => q{" + secret +
              "}, timeout => 2 }, q{{\"event\":\"rt.transaction\",\"ticket_id\":1,\"transaction_id\":1,"
              "\"type\":\"Create\",\"created\":\"2026-11-20 10:00:00\"}});"
              " print $r ? \"ok\\n\" : \"error: $e\\n\";");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// [settings]: no RT needed

TEST_CASE("RT extension settings: a missing or bad key is named", "[rt][extension][settings]") {
  const std::string lib = closeloop_library;
  const std::string code = R"(
    my @cases = (
      [ undef ],
      [ [] ],
      [ { tenant => 'acme' } ],
      [ { tenant => 'acme', host => 'rt', mode => 'plugin' } ],
      [ { tenant => 'acme', host => 'rt', library => '/nonexistent.so', config_file => '/etc/hostname' } ],
      [ { tenant => 'acme', host => 'rt', library => ')" +
                           lib + R"(' } ],
      [ { tenant => 'acme', host => 'rt', mode => 'bridge' } ],
      [ { tenant => 'acme', host => 'rt', mode => 'bridge', bridge_url => 'ftp://x', bridge_secret => 'x' x 16 } ],
      [ { tenant => 'acme', host => 'rt', mode => 'bridge', bridge_url => 'http://127.0.0.1:1/w', bridge_secret => 'short' } ],
      [ { tenant => 'acme', host => 'rt', mode => 'bridge', bridge_url => 'http://127.0.0.1:1/w', bridge_secret => 'x' x 16, timeout => 0 } ],
      [ { tenant => 'acme', host => 'rt', mode => 'bridge', bridge_url => 'http://127.0.0.1:1/w', bridge_secret => 'x' x 16, secret => 1 } ],
      [ { tenant => 'acme', host => 'rt', mode => 'bridge', bridge_url => 'http://127.0.0.1:1/w', bridge_secret => 'x' x 16 } ],
      [ { tenant => 'acme', host => 'rt', library => ')" +
                           lib + R"(', config_file => '/etc/hostname' } ],
    );
    for my $c (@cases) {
      my ($s, $e) = RT::Extension::CloseLoop->CheckSettings($c->[0]);
      print $s ? "ok mode=$s->{mode} timeout=$s->{timeout}\n" : "error: $e\n";
    }
  )";
  const auto [status, output] = perl(code);
  INFO(output);
  REQUIRE(status == 0);
  std::vector<std::string> lines;
  std::istringstream in(output);
  for (std::string l; std::getline(in, l);) {
    if (l.rfind("ok ", 0) == 0 || l.rfind("error: ", 0) == 0) lines.push_back(l);
  }
  REQUIRE(lines.size() == 13);
  CHECK_THAT(lines[0], Catch::Contains("not set") && Catch::Contains("Set($CloseLoopConfig"));
  CHECK_THAT(lines[1], Catch::Contains("expected a hash reference"));
  CHECK_THAT(lines[2], Catch::Contains("key \"host\" is required"));
  CHECK_THAT(lines[3], Catch::Contains("key \"mode\": expected 'native' or 'bridge', got 'plugin'"));
  CHECK_THAT(lines[4], Catch::Contains("key \"library\": /nonexistent.so is not a readable file"));
  CHECK_THAT(lines[5], Catch::Contains("key \"config_file\" is required in mode 'native'"));
  CHECK_THAT(lines[6], Catch::Contains("key \"bridge_url\" is required in mode 'bridge'"));
  CHECK_THAT(lines[7], Catch::Contains("key \"bridge_url\": expected an http(s) URL"));
  CHECK_THAT(lines[8], Catch::Contains("key \"bridge_secret\": at least 16 characters"));
  CHECK_THAT(lines[9], Catch::Contains("key \"timeout\""));
  CHECK_THAT(lines[10], Catch::Contains("unknown key \"secret\""));
  CHECK(lines[11] == "ok mode=bridge timeout=5");
  CHECK(lines[12] == "ok mode=native timeout=5");
}

TEST_CASE("RT extension settings: the bridge signature is the request_tracker adapter's", "[rt][extension][settings]") {
  const std::string body = R"({"event":"rt.transaction","ticket_id":7,"transaction_id":33})";
  const auto [status, output] = perl("print RT::Extension::CloseLoop->SignBody(q{" + std::string(bridge_secret) +
                                     "}, 1700000000, q{" + body + "}), qq{\\n};");
  INFO(output);
  REQUIRE(status == 0);
  const std::string expected =
      "sha256=" + closeloop::adapters::crypto::hex_encode(
                      closeloop::adapters::crypto::hmac_sha256(bridge_secret, "1700000000." + body));
  CHECK_THAT(output, Catch::Contains(expected));
}

TEST_CASE("RT extension settings: an unreachable bridge is retried once, then logged with the status",
          "[rt][extension][settings]") {
  const auto [status, output] =
      perl_bridge_call("http://127.0.0.1:" + std::to_string(free_port()) + "/webhooks/acme/rt", bridge_secret);
  INFO(output);
  REQUIRE(status == 0);
  CHECK_THAT(output, Catch::Contains("log warning: closeloop: POST http://127.0.0.1:"));
  CHECK_THAT(output, Catch::Contains("retrying once"));
  CHECK_THAT(output, Catch::Contains("error: POST http://127.0.0.1:") &&
                         Catch::Contains("/webhooks/acme/rt?apply=host failed: HTTP 599"));
}

// ---------------------------------------------------------------------------------------------
// [native]: libcloseloop.so inside RT

TEST_CASE("RT extension native: an urgent billing ticket gets priority, fields and a note in its own request",
          "[rt][extension][native]") {
  check_create("native");
}

TEST_CASE("RT extension native: resolve schedules the survey, resolve then reopen cancels it",
          "[rt][extension][native]") {
  check_survey("native");
}

TEST_CASE("RT extension native: closeloop's survey invitation does not reopen the ticket, other replies do",
          "[rt][extension][native]") {
  setup("native");
  const std::string id = create_ticket("Thanks", "How do I export my data?");
  set_status(id, "resolved");
  // What closeloop serve's worker posts through REST2: a correspondence with the survey link.
  correspond(id, "How did we do? Tell us in one click: http://127.0.0.1:8080/s/cl1.dGVzdA.c2ln");
  CHECK(rest("GET", "/ticket/" + id).at("Status") == "resolved");
  // Any other correspondence on the resolved ticket still reopens it (RT's stock scrip).
  correspond(id, "One more thing: the export is now in your inbox.");
  CHECK(rest("GET", "/ticket/" + id).at("Status") == "open");
}

// ---------------------------------------------------------------------------------------------
// [bridge]: the scrip POSTs to closeloop serve

TEST_CASE("RT extension bridge: an urgent billing ticket gets priority, fields and a note in its own request",
          "[rt][extension][bridge]") {
  const std::string id = check_create("bridge");
  // serve's worker never executes what the host applied: still one note a moment later.
  std::this_thread::sleep_for(1s);
  std::size_t notes = 0;
  for (const auto& m : messages(id)) notes += m.type == "Comment";
  CHECK(notes == 1);
  store_view db;
  CHECK(db.column("SELECT count(*) FROM outbox WHERE ticket_id = ? AND status IN ('pending', 'running', 'done')"
                  " AND type IN ('set_priority', 'set_fields', 'add_internal_note')",
                  id) == strings{"0"});
}

TEST_CASE("RT extension bridge: resolve schedules the survey, resolve then reopen cancels it",
          "[rt][extension][bridge]") {
  check_survey("bridge");
}

TEST_CASE("RT extension bridge: serve's refusal is reported with its status and message", "[rt][extension][bridge]") {
  const auto& e = setup("bridge");
  const std::string url = "http://127.0.0.1:" + std::to_string(e.serve_port) + "/webhooks/" + tenant + "/" + host;
  const auto [status, output] = perl_bridge_call(url, "not the secret, but 16+ chars");
  INFO(output);
  REQUIRE(status == 0);
  CHECK_THAT(output, Catch::Contains("error: POST " + url + "?apply=host failed: HTTP 401 "));
  CHECK_THAT(output, !Catch::Contains("retrying"));  // a 4xx is not retried
  // With the right secret the same call is accepted (a new event for ticket 1, transaction 1).
  CHECK_THAT(perl_bridge_call(url, bridge_secret).second, Catch::Contains("ok"));
}

int main(int argc, char* argv[]) {
  std::atexit([] { stop_all(); });
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, on_fatal_signal);
  const int rc = Catch::Session().run(argc, argv);
  stop_all();
  return rc;
}
