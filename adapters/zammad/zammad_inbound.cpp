// The zammad adapter's inbound half: X-Hub-Signature (verify) and the trigger webhook's default
// payload ({"ticket": …, "article": …}) as canonical events (translate). See README.md, "Inbound".
#include <exception>

#include "common/crypto.hpp"
#include "common/headers.hpp"
#include "common/vendor_util.hpp"
#include "zammad/zammad_adapter.hpp"

namespace closeloop::adapters::zammad {

using namespace util;
using nlohmann::json;

result<void> zammad_adapter::verify(const inbound_request& req, timestamp /*now*/) const {
  if (s_.webhook_secret.empty()) {
    return make_error(errc::unauthorized, "webhook_secret is not configured for this host: inbound webhooks are refused");
  }
  const std::string* sig = req.header(signature_header);
  if (sig == nullptr) {
    return make_error(errc::unauthorized, "missing X-Hub-Signature header (set the webhook's HMAC SHA1 Signature Token)");
  }
  // Exactly Zammad's scheme: "sha1=" + hex HMAC-SHA1(token, raw body). No timestamp to check.
  constexpr std::string_view scheme = "sha1=";
  if (sig->size() != scheme.size() + 40 || std::string_view(*sig).substr(0, scheme.size()) != scheme) {
    return make_error(errc::unauthorized, "X-Hub-Signature: expected sha1=<40 hex digits>");
  }
  auto given = crypto::hex_decode(std::string_view(*sig).substr(scheme.size()));
  if (!given) return make_error(errc::unauthorized, "X-Hub-Signature: expected sha1=<40 hex digits>");
  if (!crypto::constant_time_equal(*given, crypto::hmac_sha1(s_.webhook_secret, req.body))) {
    return make_error(errc::unauthorized, "X-Hub-Signature does not match (wrong token or modified body)");
  }
  return {};
}

namespace {

// A Zammad reference in the expanded payload: an object with "name", or the name itself.
std::string name_of(const json& v) {
  if (v.is_object()) return scalar_text(v.value("name", json()));
  if (v.is_string()) return v.get<std::string>();
  return {};
}

party person(const json& user, const std::string& role) {
  party p;
  if (!user.is_object()) return p;
  p.id = scalar_text(user.value("id", json()));
  p.email = scalar_text(user.value("email", json()));
  std::string first = scalar_text(user.value("firstname", json()));
  std::string last = scalar_text(user.value("lastname", json()));
  p.name = first + (first.empty() || last.empty() ? "" : " ") + last;
  p.role = role;
  return p;
}

std::string role_of_sender(const std::string& sender) {
  if (sender == "Customer") return "customer";
  if (sender == "Agent") return "agent";
  if (sender == "System") return "system";
  return {};
}

bool inactive_state(const std::string& s) { return s == "closed" || s == "merged" || s == "removed"; }

constexpr std::string_view kinds[] = {"created", "commented", "solved", "closed", "reopened", "updated"};

}  // namespace

result<std::vector<event>> zammad_adapter::translate(const inbound_request& req) const {
  try {
    auto parsed = parse_json_body(req.body);
    if (!parsed) return std::move(parsed).err();
    const json body = std::move(parsed).value();
    if (!body.is_object()) return bad_payload("body", std::string("expected Zammad's trigger payload (an object), got ") + body.type_name());
    auto t_it = body.find("ticket");
    if (t_it == body.end() || t_it->is_null()) return bad_payload("body.ticket", "required (Zammad's trigger payload: {\"ticket\": …, \"article\": …})");
    if (!t_it->is_object()) return bad_payload("body.ticket", std::string("expected an object, got ") + t_it->type_name());
    const json& t = *t_it;
    json article = body.value("article", json());
    if (!article.is_null() && !article.is_object()) {
      return bad_payload("body.article", std::string("expected an object, got ") + article.type_name());
    }
    const bool has_article = article.is_object() && article.contains("id") && !article["id"].is_null();

    auto tid = t.find("id");
    if (tid == t.end() || tid->is_null()) return bad_payload("body.ticket.id", "required");
    auto ticket = id_text(*tid);
    if (!ticket || *ticket == "0") return bad_payload("body.ticket.id", "expected a Zammad ticket id, got " + describe_value(*tid));
    std::string article_id;
    if (has_article) {
      auto aid = id_text(article["id"]);
      if (!aid) return bad_payload("body.article.id", "expected a Zammad article id, got " + describe_value(article["id"]));
      article_id = *aid;
    }
    for (const char* f : {"title", "state", "updated_at", "created_at"}) {
      if (auto it = t.find(f); it != t.end() && !it->is_null() && !it->is_string() && !(std::string(f) == "state" && it->is_object())) {
        return bad_payload(std::string("body.ticket.") + f, std::string("expected a string, got ") + it->type_name());
      }
    }
    const std::string state = name_of(t.value("state", json()));

    // The kind: ?event= on the webhook URL (manifests/zammad sets one per trigger), else inferred.
    std::string kind = query_param(req.target, "event").value_or("");
    if (!kind.empty()) {
      if (std::find(std::begin(kinds), std::end(kinds), kind) == std::end(kinds)) {
        return bad_payload("event", "unknown \"" + kind + "\" (expected created, commented, solved, closed, reopened or updated)");
      }
    } else if (has_article) {
      bool first = false;
      if (auto ids = t.find("article_ids"); ids != t.end() && ids->is_array() && !ids->empty()) {
        first = id_text(ids->front()).value_or("") == article_id;
      } else if (auto n = t.find("article_count"); n != t.end() && n->is_number_integer()) {
        first = n->get<std::int64_t>() <= 1;
      }
      kind = first ? "created" : "commented";
    } else if (state == "closed") {
      kind = "solved";
    } else if (inactive_state(state)) {
      kind = "closed";
    } else {
      kind = "updated";
    }
    if ((kind == "created" || kind == "commented") && !has_article) {
      return bad_payload("body.article", "required for a " + kind + " event (the trigger must fire on an article)");
    }

    event ev;
    ev.tenant = tenant_;
    ev.host = host_;
    ev.ticket_id = *ticket;
    ev.subject = scalar_text(t.value("title", json()));
    ev.group = name_of(t.value("group", json()));
    ev.requester = person(t.value("customer", json()), "customer");
    if (auto tags = t.find("tags"); tags != t.end() && tags->is_array()) {
      for (const auto& tag : *tags) {
        if (tag.is_string()) ev.tags.push_back(tag.get<std::string>());
      }
    }

    std::string text;
    if (has_article) {
      const std::string raw = scalar_text(article.value("body", json()));
      text = scalar_text(article.value("content_type", json())) == "text/html" ? html_to_text(raw) : raw;
      const std::string sender = scalar_text(article.value("sender", json()));
      ev.author = person(article.value("created_by", json()), role_of_sender(sender));
      if (ev.author.empty()) ev.author.role.clear();
    }

    // Time and a stable id for the change: the article's, else the ticket's updated_at.
    std::string when = has_article ? scalar_text(article.value("created_at", json())) : "";
    if (when.empty()) when = scalar_text(t.value("updated_at", json()));
    if (!when.empty()) {
      auto ts = parse_rfc3339(when);
      if (!ts) return bad_payload(has_article ? "body.article.created_at" : "body.ticket.updated_at", "expected an RFC 3339 date-time, got \"" + when + "\"");
      ev.occurred_at = *ts;
    } else if (req.received_at.time_since_epoch().count() != 0) {
      ev.occurred_at = req.received_at;
    } else {
      return bad_payload("body.ticket.updated_at", "required (the time of the change)");
    }
    ev.host_event_id = "zammad:" + ev.ticket_id + ":" + kind + ":";
    if (has_article) {
      ev.host_event_id += "a" + article_id;
    } else if (!scalar_text(t.value("updated_at", json())).empty()) {
      ev.host_event_id += "u" + scalar_text(t.value("updated_at", json()));
    } else if (const std::string* d = req.header(delivery_header); d != nullptr && !d->empty()) {
      ev.host_event_id += "d" + *d;
    } else {
      return bad_payload("body.ticket.updated_at", "required to identify the change (no article, no X-Zammad-Delivery)");
    }

    if (kind == "created") {
      ev.type = event_type::ticket_created;
      ev.text = text;
      ev.channel = scalar_text(t.value("create_article_type", json()));
      if (ev.channel.empty()) ev.channel = scalar_text(article.value("type", json()));
      if (ev.channel.empty()) ev.channel = "email";
      if (ev.author.empty()) ev.author = ev.requester;
    } else if (kind == "commented") {
      ev.type = event_type::ticket_commented;
      ev.text = text;
      ev.visibility = article.value("internal", false) ? "internal" : "public";
      ev.channel = scalar_text(article.value("type", json()));
    } else if (kind == "solved") {
      ev.type = event_type::ticket_solved;
      // An agent's public article closing the ticket is the answer closeloop may draft a KB article from.
      if (has_article && !article.value("internal", false) && ev.author.role == "agent" && !text.empty()) {
        ev.data = {{"resolution", text}};
      }
      ev.changes = {{"status", {{"from", nullptr}, {"to", state.empty() ? "closed" : state}}}};
    } else if (kind == "closed") {
      ev.type = event_type::ticket_closed;
      ev.changes = {{"status", {{"from", nullptr}, {"to", state}}}};
    } else if (kind == "reopened") {
      ev.type = event_type::ticket_reopened;
      ev.changes = {{"status", {{"from", nullptr}, {"to", state}}}};
    } else {
      ev.type = event_type::ticket_updated;
      json changes = json::object();
      if (!state.empty()) changes["status"] = {{"from", nullptr}, {"to", state}};
      if (std::string p = name_of(t.value("priority", json())); !p.empty()) changes["priority"] = {{"from", nullptr}, {"to", p}};
      if (!ev.group.empty()) changes["group"] = {{"from", nullptr}, {"to", ev.group}};
      ev.changes = std::move(changes);
    }
    std::vector<event> out;
    out.push_back(std::move(ev));
    return out;
  } catch (const std::exception& e) {
    return make_error(errc::invalid_argument, std::string("body: ") + parser_message(e));
  }
}

}  // namespace closeloop::adapters::zammad
