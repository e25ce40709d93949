// Webhook ingress on real sockets: redelivery, and bad input of every kind answered with the
// right status and a message that names the problem, while the server keeps serving others.
#include <catch2/catch.hpp>

#include "harness.hpp"

using namespace closeloop;
using namespace closeloop::itest;

TEST_CASE("a redelivered webhook-id is answered 200 and stored once", "[integration][ingress]") {
  temp_dir dir("redeliver");
  server_process srv(dir, make_config({}));
  srv.start();

  const std::string body = event_json("ticket.created", "r-1").dump();
  auto first = post_signed(srv, "redeliver-1", body);
  REQUIRE(first);
  INFO(first->body);
  CHECK(first->status == 202);
  CHECK(parse_body(*first).value("status", "") == "accepted");
  const std::int64_t outbox_rows = db_view(srv.db_path()).scalar("SELECT count(*) FROM outbox");
  CHECK(outbox_rows > 0);

  // The host retries (new timestamp, new signature, same id).
  std::this_thread::sleep_for(1100ms);
  auto second = post_signed(srv, "redeliver-1", body);
  REQUIRE(second);
  INFO(second->body);
  CHECK(second->status == 200);
  json j = parse_body(*second);
  CHECK(j.value("status", "") == "duplicate");
  REQUIRE(j["events"].size() == 1);
  CHECK(j["events"][0].value("duplicate", false));
  CHECK(j["events"][0]["actions"].empty());

  db_view db(srv.db_path());
  CHECK(db.events_with_id("redeliver-1") == 1);
  CHECK(db.events() == 1);
  CHECK(db.scalar("SELECT count(*) FROM outbox") == outbox_rows);  // no action doubled
}

TEST_CASE("a redelivery to the in-request door answers the immediate actions again, nothing decided twice",
          "[integration][ingress]") {
  // ?apply=host: the caller (RT's bridge scrip) applies the immediate actions itself. When its
  // first answer was lost after our commit, its retry must get them again, or they never arrive.
  temp_dir dir("redeliver-host");
  server_process srv(dir, make_config({}));
  srv.start();
  const std::string url = srv.webhook_url() + "?apply=host";
  const std::string body = event_json("ticket.created", "rh-1").dump();
  auto first = http_post(url, sign_headers("redeliver-host-1", body), body);
  REQUIRE(first);
  INFO(first->body);
  REQUIRE(first->status == 202);
  const json one = parse_body(*first);
  REQUIRE(one["actions"].is_array());
  std::vector<std::string> immediate;
  for (const auto& a : one["actions"])
    if (a.value("immediate", false)) immediate.push_back(a.at("idempotency_key").get<std::string>());
  REQUIRE(immediate.size() >= 2);  // priority, fields, note
  db_view db(srv.db_path());
  const std::int64_t rows = db.scalar("SELECT count(*) FROM outbox");
  CHECK(db.scalar("SELECT count(*) FROM outbox WHERE status = 'applied'") == static_cast<std::int64_t>(immediate.size()));

  std::this_thread::sleep_for(1100ms);  // a new timestamp and signature, the same event
  auto second = http_post(url, sign_headers("redeliver-host-1", body), body);
  REQUIRE(second);
  INFO(second->body);
  CHECK(second->status == 200);
  const json two = parse_body(*second);
  CHECK(two.value("duplicate", false));
  REQUIRE(two["actions"].is_array());
  std::vector<std::string> again;
  for (const auto& a : two["actions"]) {
    CHECK(a.value("immediate", false));  // only what the host applies; the worker's work stays with it
    again.push_back(a.at("idempotency_key").get<std::string>());
  }
  CHECK(again == immediate);
  CHECK(two["actions"] == [&] {
    json only = json::array();
    for (const auto& a : one["actions"])
      if (a.value("immediate", false)) only.push_back(a);
    return only;
  }());
  CHECK(db.scalar("SELECT count(*) FROM outbox") == rows);  // nothing decided or stored twice
  CHECK(db.events() == 1);

  // Without ?apply=host a redelivery still answers no actions (the worker delivers them).
  std::this_thread::sleep_for(1100ms);
  auto plain = post_signed(srv, "redeliver-host-1", body);
  REQUIRE(plain);
  CHECK(plain->status == 200);
  CHECK(parse_body(*plain)["events"][0]["actions"].empty());
}

namespace {

// /healthz on a new connection answers 200.
void check_still_serving(server_process& srv) {
  INFO("the server must still answer /healthz on a fresh connection");
  CHECK(srv.running());
  CHECK(healthz_ok(srv));
}

void check_error(const result<adapters::http::response>& r, std::initializer_list<int> statuses,
                 std::initializer_list<std::string_view> words) {
  REQUIRE(r);
  INFO("HTTP " << r->status << " " << r->body);
  CHECK(std::find(statuses.begin(), statuses.end(), r->status) != statuses.end());
  json j = parse_body(*r);
  REQUIRE(j.is_object());
  CHECK(!j.value("error", "").empty());
  const std::string message = j.value("message", "");
  for (auto w : words) CHECK_THAT(message, Catch::Contains(std::string(w)));
}

}  // namespace

TEST_CASE("bad input gets 4xx naming the problem and the server keeps serving", "[integration][ingress]") {
  temp_dir dir("badinput");
  config_options co;
  co.body_limit_bytes = 4096;
  co.read_timeout_ms = 1500;
  server_process srv(dir, make_config(co));
  srv.start();
  std::int64_t good = 0;

  {
    auto r = post_signed(srv, "good-1", event_json("ticket.created", "b-1").dump());
    REQUIRE(r);
    REQUIRE(r->status == 202);
    ++good;
  }

  {
    INFO("malformed JSON, correctly signed");
    check_error(post_signed(srv, "bad-json", R"({"type": "ticket.created", "ticket_id": )"), {400}, {"JSON"});
    check_still_serving(srv);
  }
  {
    INFO("wrong field type: ticket_id is a number");
    json e = event_json("ticket.created", "b-2");
    e["ticket_id"] = 42;
    check_error(post_signed(srv, "bad-type-1", e.dump()), {400}, {"ticket_id", "string"});
    check_still_serving(srv);
  }
  {
    INFO("wrong field type: tags is a string");
    json e = event_json("ticket.created", "b-3");
    e["tags"] = "vip";
    check_error(post_signed(srv, "bad-type-2", e.dump()), {400}, {"tags"});
    check_still_serving(srv);
  }
  {
    INFO("unknown event type");
    json e = event_json("ticket.created", "b-4");
    e["type"] = "ticket.exploded";
    check_error(post_signed(srv, "bad-event-type", e.dump()), {400, 422}, {"type", "ticket.exploded"});
    check_still_serving(srv);
  }
  {
    INFO("unknown tenant");
    const std::string body = event_json("ticket.created", "b-5").dump();
    check_error(http_post(srv.webhook_url("nobody", "generic"), sign_headers("bad-tenant", body), body), {404},
                {"nobody"});
    check_still_serving(srv);
  }
  {
    INFO("unknown host");
    const std::string body = event_json("ticket.created", "b-6").dump();
    check_error(http_post(srv.webhook_url("acme", "zendesk"), sign_headers("bad-host", body), body), {404},
                {"zendesk"});
    check_still_serving(srv);
  }
  {
    INFO("body over body_limit_bytes (4096)");
    json e = event_json("ticket.created", "b-7", std::string(6000, 'x'));
    const std::string body = e.dump();
    check_error(post_signed(srv, "too-large", body), {413}, {"4096"});
    check_still_serving(srv);
  }
  {
    INFO("GET on the webhook route");
    auto r = http_get(srv.webhook_url());
    check_error(r, {405}, {"POST"});
    const std::string* allow = r->header("allow");
    REQUIRE(allow != nullptr);
    CHECK(*allow == "POST");
    check_still_serving(srv);
  }
  {
    INFO("garbage request line");
    raw_socket s(srv.port());
    REQUIRE(s.send_all("\x01\x02 GARBAGE \xff\r\n\r\n"));
    const std::string answer = s.read_for(3s);
    INFO(answer);
    CHECK(answer.rfind("HTTP/1.1 400", 0) == 0);
    check_still_serving(srv);
  }
  {
    INFO("a client that sends one byte a second is cut off within read_timeout_ms (1500) while another is served");
    const std::string request =
        "POST /webhooks/acme/generic HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n";
    std::atomic<bool> slow_done{false};
    std::string slow_answer;
    bool slow_closed = false;
    std::chrono::milliseconds slow_elapsed{0};
    std::size_t bytes_sent = 0;
    std::string slow_error;
    std::thread slow([&] {
      try {
        raw_socket s(srv.port());
        const auto start = steady::now();
        // One byte a second, at most 10 bytes: stop as soon as the server answers or closes.
        for (std::size_t i = 0; i < 10 && i < request.size(); ++i) {
          if (!s.send_all(request.substr(i, 1))) break;
          ++bytes_sent;
          if (s.readable(1000ms)) break;
        }
        slow_answer = s.read_for(3s);
        slow_closed = s.closed();
        slow_elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start);
      } catch (const std::exception& e) {
        slow_error = e.what();
      }
      slow_done = true;
    });
    // Meanwhile other clients are served normally and quickly.
    std::this_thread::sleep_for(300ms);
    const auto t = steady::now();
    const bool health = healthz_ok(srv);
    auto r = post_signed(srv, "during-slow", event_json("ticket.created", "b-8").dump());
    const auto served_in = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t);
    const bool during = !slow_done.load();
    slow.join();
    REQUIRE(slow_error.empty());
    CHECK(health);
    REQUIRE(r);
    CHECK(r->status == 202);
    if (r->status == 202) ++good;
    CHECK(during);  // the other client really was served while the slow one was connected
    CHECK(served_in < 1000ms);
    INFO("slow client: " << bytes_sent << " byte(s) sent, answer after " << slow_elapsed.count()
                         << " ms: " << slow_answer);
    CHECK((slow_answer.rfind("HTTP/1.1 408", 0) == 0 || (slow_answer.empty() && slow_closed)));
    CHECK(slow_elapsed >= 1000ms);  // not cut before its time ...
    CHECK(slow_elapsed <= 3000ms);  // ... but within read_timeout_ms + margin
    CHECK(bytes_sent <= 4);
    check_still_serving(srv);
  }

  // None of the bad requests stored anything; the process never crashed.
  CHECK(db_view(srv.db_path()).events() == good);
  CHECK(srv.running());
}
