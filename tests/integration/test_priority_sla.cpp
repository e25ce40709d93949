// Priority from the customer tier and the SLA, end to end over real sockets: events posted to
// closeloop serve, the actions delivered by the worker through the generic adapter to a loopback
// receiver — the due times arrive in set_fields, and a later outage report moves them earlier.
#include <catch2/catch.hpp>

#include "harness.hpp"
#include "../adapters/loopback_server.hpp"

using namespace closeloop;
using namespace closeloop::itest;

TEST_CASE("priority and SLA through closeloop serve: tier minimum, due times written, moved earlier on a raise",
          "[integration][priority]") {
  temp_dir dir("priority-sla");
  test::loopback_server sink;
  config_options co;
  co.endpoint_url = sink.url("/actions");
  json cfg = make_config(co);
  json& pol = cfg["tenants"][0]["policy"];
  pol["tier_priority"] = {{"enterprise", "urgent"}};
  pol["sla"] = {{"first_reply_h", {{"urgent", 2}}}};
  server_process srv(dir, cfg);
  srv.start();

  json created = event_json("ticket.created", "p1", "How do I export the monthly report?");
  created["occurred_at"] = "2026-11-20T09:00:00Z";
  created["tags"] = {"tier:enterprise"};
  auto r = post_signed(srv, "p1-created", created.dump());
  INFO((r ? r->body : r.err().message) << "\nserver: " << srv.stderr_text());
  REQUIRE(r);
  REQUIRE(r->status == 202);
  REQUIRE(eventually([&] { return !actions_received(sink, "set_fields", "p1").empty(); }, 10s));
  const json fields = actions_received(sink, "set_fields", "p1").front()["params"]["fields"];
  CHECK(fields["sla_first_reply_due"] == "2026-11-20T11:00:00Z");  // the tenant's urgent target, 2 h
  CHECK(fields["sla_resolution_due"] == "2026-11-21T09:00:00Z");   // urgent's default, 24 h
  CHECK(fields["priority_reason"] == "customer tier enterprise (minimum urgent)");
  REQUIRE(eventually([&] { return !actions_received(sink, "set_priority", "p1").empty(); }, 10s));
  CHECK(actions_received(sink, "set_priority", "p1").front()["params"]["priority"] == "urgent");

  json comment = event_json("ticket.commented", "p1", "Now it is a total outage for all users");
  comment["occurred_at"] = "2026-11-20T09:20:00Z";
  auto c = post_signed(srv, "p1-comment", comment.dump());
  REQUIRE(c);
  REQUIRE(c->status == 202);
  REQUIRE(eventually([&] { return actions_received(sink, "set_fields", "p1").size() == 2; }, 10s));
  const json moved = actions_received(sink, "set_fields", "p1").back()["params"]["fields"];
  CHECK(moved["sla_first_reply_due"] == "2026-11-20T10:00:00Z");  // critical: 1 h from creation
  CHECK(moved["sla_resolution_due"] == "2026-11-20T17:00:00Z");   // critical: 8 h
}
