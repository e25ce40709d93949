// closeloop_bench_ingest_load: the load generator of the ingest benchmark (tests/bench/ingest).
//
//   load   POST unique, Standard-Webhooks-signed canonical events over N keep-alive connections
//          spread over M threads, for a bounded time (and at most a request count); print
//          events/s, p50/p99/p99.9 latency and status counts as one JSON line plus a human line.
//          With --acked-file, every host_event_id answered with the expected status is written
//          there (one a line) so durability can be checked afterwards.
//   check  open the SQLite store and confirm that every id in --acked-file is stored.
//
// Each connection keeps exactly one request in flight (closed loop). Bodies are built and signed
// on the fly for every request, whatever the target, so the client does the same work against
// closeloop and against the nginx baseline.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "closeloop/store.hpp"
#include "common/standard_webhooks.hpp"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;
using json = nlohmann::json;
namespace sw = closeloop::adapters::standard_webhooks;

constexpr const char* usage =
    "usage:\n"
    "  closeloop_bench_ingest_load load --url http://127.0.0.1:PORT/webhooks/TENANT/HOST --secret S\n"
    "        --event FILE [--label NAME] [--connections 32] [--threads 2] [--duration 10]\n"
    "        [--max-requests 0 (no limit)] [--expect 202] [--acked-file F] [--id-prefix P]\n"
    "  closeloop_bench_ingest_load check --db FILE --acked-file F --tenant T --host H\n";

struct load_options {
  std::string host = "127.0.0.1";
  std::string port;
  std::string target;
  std::string secret;
  std::string event_file;
  std::string label = "target";
  std::string acked_file;
  std::string id_prefix;
  int connections = 32;
  int threads = 2;
  double duration_s = 10;
  std::int64_t max_requests = 0;
  int expect = 202;
};

// The canonical event split around its two unique fields: prefix ID middle ID suffix.
struct body_template {
  std::string prefix, middle, suffix;
};

body_template make_template(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot read event file " + path);
  json j = json::parse(f);
  if (!j.is_object()) throw std::runtime_error(path + ": expected one canonical event (a JSON object)");
  constexpr std::string_view id_mark = "@@BENCH_EVENT_ID@@";
  constexpr std::string_view ticket_mark = "@@BENCH_TICKET_ID@@";
  j["host_event_id"] = id_mark;
  j["ticket_id"] = ticket_mark;
  std::string s = j.dump();
  auto a = s.find(id_mark), b = s.find(ticket_mark);
  if (a == std::string::npos || b == std::string::npos) throw std::runtime_error("template markers lost");
  body_template t;
  if (a < b) {
    t.prefix = s.substr(0, a);
    t.middle = s.substr(a + id_mark.size(), b - a - id_mark.size());
    t.suffix = s.substr(b + ticket_mark.size());
  } else {  // ticket_id first: both hold the same unique value, so the order does not matter
    t.prefix = s.substr(0, b);
    t.middle = s.substr(b + ticket_mark.size(), a - b - ticket_mark.size());
    t.suffix = s.substr(a + id_mark.size());
  }
  return t;
}

struct shared_run {
  const load_options& opt;
  const body_template& tmpl;
  const sw::signer& signer;
  clock_type::time_point deadline;
  std::atomic<std::int64_t> issued{0};
};

struct thread_stats {
  std::vector<std::uint32_t> latency_us;  // one per answered request
  std::map<int, std::int64_t> status;
  std::int64_t ok = 0;
  std::int64_t errors = 0;  // connect/read/write failures
  std::int64_t reconnects = 0;
  std::vector<std::string> acked;
};

class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(net::io_context& ioc, shared_run& run, thread_stats& st, tcp::resolver::results_type eps, std::string tag)
      : ioc_(ioc), run_(run), st_(st), eps_(std::move(eps)), tag_(std::move(tag)), stream_(ioc), timer_(ioc) {}

  void start() { do_connect(); }

 private:
  bool should_stop() {
    if (clock_type::now() >= run_.deadline) return true;
    if (run_.opt.max_requests > 0 && run_.issued.fetch_add(1) >= run_.opt.max_requests) return true;
    return false;
  }

  void do_connect() {
    if (clock_type::now() >= run_.deadline) return;
    stream_.expires_after(std::chrono::seconds(5));
    stream_.async_connect(eps_, [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
      if (ec) return self->fail();
      self->stream_.socket().set_option(tcp::no_delay(true));
      self->do_request();
    });
  }

  void fail() {
    ++st_.errors;
    beast::error_code ignored;
    stream_.socket().close(ignored);
    buffer_.clear();
    if (clock_type::now() >= run_.deadline) return;
    ++st_.reconnects;
    timer_.expires_after(std::chrono::milliseconds(10));
    timer_.async_wait([self = shared_from_this()](beast::error_code) { self->do_connect(); });
  }

  void do_request() {
    if (should_stop()) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream_.socket().close(ignored);
      return;
    }
    id_ = run_.opt.id_prefix + tag_ + "-" + std::to_string(seq_++);
    const auto& t = run_.tmpl;
    std::string body;
    body.reserve(t.prefix.size() + t.middle.size() + t.suffix.size() + 2 * id_.size());
    body.append(t.prefix).append(id_).append(t.middle).append(id_).append(t.suffix);
    const std::int64_t ts = static_cast<std::int64_t>(std::time(nullptr));
    req_ = {};
    req_.method(http::verb::post);
    req_.target(run_.opt.target);
    req_.version(11);
    req_.set(http::field::host, run_.opt.host + ":" + run_.opt.port);
    req_.set(http::field::content_type, "application/json");
    req_.set(http::field::user_agent, "closeloop-bench");
    for (auto& [name, value] : sw::make_headers(run_.signer, id_, ts, body)) req_.set(name, value);
    req_.keep_alive(true);
    req_.body() = std::move(body);
    req_.prepare_payload();
    res_.emplace();
    res_->body_limit(1024 * 1024);
    started_ = clock_type::now();
    // An answer that never comes is bounded by the run, not by a long timeout.
    stream_.expires_at(run_.deadline + std::chrono::seconds(5));
    http::async_write(stream_, req_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->fail();
      http::async_read(self->stream_, self->buffer_, *self->res_,
                       [self](beast::error_code ec2, std::size_t) { self->on_read(ec2); });
    });
  }

  void on_read(beast::error_code ec) {
    if (ec) return fail();
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - started_).count();
    st_.latency_us.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>(us, UINT32_MAX)));
    const auto& res = res_->get();
    int code = res.result_int();
    ++st_.status[code];
    if (code == run_.opt.expect) {
      ++st_.ok;
      if (!run_.opt.acked_file.empty()) st_.acked.push_back(id_);
    }
    if (!res.keep_alive()) {  // e.g. a server's keep-alive request limit: reconnect, not an error
      beast::error_code ignored;
      stream_.socket().close(ignored);
      buffer_.clear();
      ++st_.reconnects;
      return do_connect();
    }
    do_request();
  }

  net::io_context& ioc_;
  shared_run& run_;
  thread_stats& st_;
  tcp::resolver::results_type eps_;
  std::string tag_;
  beast::tcp_stream stream_;
  net::steady_timer timer_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  std::optional<http::response_parser<http::string_body>> res_;
  std::string id_;
  std::uint64_t seq_ = 0;
  clock_type::time_point started_;
};

// "http://127.0.0.1:8080/webhooks/acme/generic" -> host, port, target.
void parse_url(const std::string& url, load_options& o) {
  constexpr std::string_view scheme = "http://";
  if (!url.starts_with(scheme)) throw std::runtime_error("--url: only http:// URLs are supported: " + url);
  std::string rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  o.target = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = authority.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("--url: expected host:port in " + url);
  o.host = authority.substr(0, colon);
  o.port = authority.substr(colon + 1);
}

double percentile_ms(const std::vector<std::uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto idx = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(idx, sorted.size() - 1)] / 1000.0;
}

int run_load(load_options o) {
  auto signer = sw::signer::from_secret(o.secret);
  if (!signer) {
    std::cerr << "--secret: " << signer.err().message << "\n";
    return 2;
  }
  body_template tmpl = make_template(o.event_file);
  if (o.id_prefix.empty())
    o.id_prefix = "bench-" + std::to_string(::getpid()) + "-" + std::to_string(std::time(nullptr)) + "-";
  o.threads = std::max(1, o.threads);
  o.connections = std::max(1, o.connections);

  net::io_context resolver_ctx;
  tcp::resolver resolver(resolver_ctx);
  auto eps = resolver.resolve(o.host, o.port);

  shared_run run{o, tmpl, *signer, {}, {}};
  std::vector<thread_stats> stats(static_cast<std::size_t>(o.threads));
  std::vector<std::unique_ptr<net::io_context>> ctxs;
  for (int t = 0; t < o.threads; ++t) ctxs.push_back(std::make_unique<net::io_context>(1));

  const auto begin = clock_type::now();
  run.deadline = begin + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.duration_s));
  for (int c = 0; c < o.connections; ++c) {
    auto t = static_cast<std::size_t>(c % o.threads);
    std::make_shared<connection>(*ctxs[t], run, stats[t], eps, std::to_string(c))->start();
  }
  std::vector<std::thread> threads;
  for (auto& ctx : ctxs) threads.emplace_back([&ctx] { ctx->run(); });
  for (auto& th : threads) th.join();
  const double elapsed = std::chrono::duration<double>(clock_type::now() - begin).count();

  thread_stats all;
  for (auto& s : stats) {
    all.latency_us.insert(all.latency_us.end(), s.latency_us.begin(), s.latency_us.end());
    for (auto& [k, v] : s.status) all.status[k] += v;
    all.ok += s.ok;
    all.errors += s.errors;
    all.reconnects += s.reconnects;
  }
  std::sort(all.latency_us.begin(), all.latency_us.end());
  const double eps_rate = elapsed > 0 ? static_cast<double>(all.ok) / elapsed : 0;
  const double p50 = percentile_ms(all.latency_us, 0.50), p99 = percentile_ms(all.latency_us, 0.99),
               p999 = percentile_ms(all.latency_us, 0.999);

  if (!o.acked_file.empty()) {
    std::ofstream f(o.acked_file, std::ios::trunc);
    for (auto& s : stats)
      for (auto& id : s.acked) f << id << '\n';
    if (!f) {
      std::cerr << "cannot write " << o.acked_file << "\n";
      return 1;
    }
  }

  nlohmann::ordered_json status = nlohmann::ordered_json::object();
  for (auto& [k, v] : all.status) status[std::to_string(k)] = v;
  nlohmann::ordered_json line = {{"label", o.label},
                                 {"connections", o.connections},
                                 {"threads", o.threads},
                                 {"duration_s", elapsed},
                                 {"requests", static_cast<std::int64_t>(all.latency_us.size())},
                                 {"ok", all.ok},
                                 {"expect", o.expect},
                                 {"status", status},
                                 {"errors", all.errors},
                                 {"reconnects", all.reconnects},
                                 {"events_per_s", eps_rate},
                                 {"p50_ms", p50},
                                 {"p99_ms", p99},
                                 {"p999_ms", p999}};
  std::cout << line.dump() << "\n";
  char human[512];
  std::snprintf(human, sizeof human,
                "%-10s %10.0f events/s  p50 %7.3f ms  p99 %7.3f ms  p99.9 %7.3f ms  (%lld x %d in %.2f s, %lld errors, "
                "%lld not %d)\n",
                o.label.c_str(), eps_rate, p50, p99, p999, static_cast<long long>(all.ok), o.expect, elapsed,
                static_cast<long long>(all.errors),
                static_cast<long long>(static_cast<std::int64_t>(all.latency_us.size()) - all.ok), o.expect);
  std::cout << human << std::flush;
  return all.ok > 0 ? 0 : 1;
}

int run_check(const std::string& db, const std::string& acked_file, const std::string& tenant,
              const std::string& host) {
  std::ifstream f(acked_file);
  if (!f) {
    std::cerr << "cannot read " << acked_file << "\n";
    return 2;
  }
  auto st = closeloop::store::open(closeloop::store_options{db});
  if (!st) {
    std::cerr << "cannot open store " << db << ": " << st.err().message << "\n";
    return 2;
  }
  std::int64_t acked = 0, missing = 0;
  std::string id, first_missing;
  while (std::getline(f, id)) {
    if (id.empty()) continue;
    ++acked;
    if (!(*st)->has_event(tenant, host, id)) {
      if (missing++ == 0) first_missing = id;
    }
  }
  auto c = (*st)->stats();
  nlohmann::ordered_json line = {
      {"check", "durability"}, {"acked", acked}, {"missing", missing}, {"events_in_store", c.events}};
  if (missing) line["first_missing"] = first_missing;
  std::cout << line.dump() << "\n";
  std::cout << (missing == 0 ? "durable: all " : "NOT DURABLE: ") << (missing == 0 ? acked : missing)
            << (missing == 0 ? " acknowledged events are in the store" : " acknowledged events missing from the store")
            << " (" << c.events << " events stored)\n";
  return missing == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << usage;
    return 2;
  }
  std::string mode = argv[1];
  try {
    std::map<std::string, std::string> args;
    for (int i = 2; i < argc; ++i) {
      std::string k = argv[i];
      if (!k.starts_with("--") || i + 1 >= argc) {
        std::cerr << "unexpected argument " << k << "\n" << usage;
        return 2;
      }
      args[k.substr(2)] = argv[++i];
    }
    auto take = [&](const std::string& k, bool required) -> std::optional<std::string> {
      auto it = args.find(k);
      if (it == args.end()) {
        if (required) throw std::runtime_error("--" + k + " is required");
        return std::nullopt;
      }
      std::string v = it->second;
      args.erase(it);
      return v;
    };
    int rc = 2;
    if (mode == "load") {
      load_options o;
      parse_url(*take("url", true), o);
      o.secret = *take("secret", true);
      o.event_file = *take("event", true);
      if (auto v = take("label", false)) o.label = *v;
      if (auto v = take("connections", false)) o.connections = std::stoi(*v);
      if (auto v = take("threads", false)) o.threads = std::stoi(*v);
      if (auto v = take("duration", false)) o.duration_s = std::stod(*v);
      if (auto v = take("max-requests", false)) o.max_requests = std::stoll(*v);
      if (auto v = take("expect", false)) o.expect = std::stoi(*v);
      if (auto v = take("acked-file", false)) o.acked_file = *v;
      if (auto v = take("id-prefix", false)) o.id_prefix = *v;
      if (!args.empty()) throw std::runtime_error("unknown option --" + args.begin()->first);
      rc = run_load(o);
    } else if (mode == "check") {
      auto db = *take("db", true), acked = *take("acked-file", true), tenant = *take("tenant", true),
           host = *take("host", true);
      if (!args.empty()) throw std::runtime_error("unknown option --" + args.begin()->first);
      rc = run_check(db, acked, tenant, host);
    } else {
      std::cerr << usage;
    }
    return rc;
  } catch (const std::exception& e) {
    std::cerr << "closeloop_bench_ingest_load: " << e.what() << "\n";
    return 2;
  }
}
