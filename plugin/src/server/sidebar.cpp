// The agent sidebar's routes (sidebar.hpp): gather the ticket's view, check access, record
// corrections as ticket.updated events, mint contexts for the SaaS apps.
#include "server/sidebar.hpp"

#include <algorithm>
#include <cctype>

#include <spdlog/spdlog.h>

#include "common/crypto.hpp"
#include "server/customer_health.hpp"
#include "server/kb.hpp"
#include "server/routes.hpp"
#include "server/sidebar_context.hpp"
#include "server/survey_html.hpp"

namespace closeloop::server::sidebar {
namespace {

namespace html = survey::html;

const std::vector<std::string> k_priorities{"normal", "urgent", "critical"};
const std::vector<std::string> k_sentiments{"positive", "neutral", "negative"};

std::string sidebar_lang(std::string_view l) {
  if (!l.starts_with("zh")) return "en";
  if (l.find("TW") != std::string_view::npos || l.find("HK") != std::string_view::npos ||
      l.find("Hant") != std::string_view::npos || l.find("tw") != std::string_view::npos)
    return "zh-TW";
  return "zh-CN";
}

std::string day_of(timestamp t) { return format_rfc3339(t).substr(0, 10); }

std::vector<std::string> category_choices(const tenant_config& t) {
  std::vector<std::string> out;
  for (const auto& [name, words] : t.classifier.categories) out.push_back(name);
  out.push_back("other");
  return out;
}

std::vector<std::string> choices_for(const tenant_config& t, std::string_view field) {
  if (field == "priority") return k_priorities;
  if (field == "sentiment") return k_sentiments;
  return category_choices(t);
}

// Percent-encodes everything but unreserved characters (RFC 3986).
std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else out += std::string{'%', hex[c >> 4], hex[c & 15]};
  }
  return out;
}

std::string current_value(const ticket_state& st, std::string_view field) {
  if (field == "category") return st.category;
  if (field == "priority") return std::string(to_string(st.prio));
  return st.sentiment;
}

std::string notice_text(std::string_view lang, std::string_view field, std::string_view value) {
  const std::string f(field), v(value);
  if (lang == "zh-CN") return "已记录纠正：" + f + " → " + v;
  if (lang == "zh-TW") return "已記錄更正：" + f + " → " + v;
  return "Correction recorded: " + f + " → " + v + ". It is a labelled example for closeloop train.";
}

// Who is asking and for which ticket: the verified context, or the token's tenant and the query.
struct target {
  std::string tenant, host, ticket, lang, ctx;
  auth::principal who;
};

// Authorizes the request (context or agent token) and names the ticket; on failure responds.
std::optional<target> resolve(const http_request& req, services& svc, const std::vector<std::pair<std::string, std::string>>& form,
                              respond_fn& respond) {
  auto field = [&](std::string_view name) -> std::string {
    if (auto q = query_param(req.target(), name)) return *q;
    for (const auto& [n, v] : form)
      if (n == name) return v;
    return {};
  };
  target t;
  t.ctx = field("ctx");
  t.tenant = t.ctx.empty() ? field("tenant") : claimed_tenant(t.ctx);
  const std::string lang_hint = sidebar_lang(field("lang"));
  if (t.tenant.empty()) {
    // No credential, or a context that cannot be read: 401. A token without ?tenant=: 400.
    const bool token_only = t.ctx.empty() && !auth::bearer_token(req).empty();
    const auto st = token_only ? http::status::bad_request : http::status::unauthorized;
    respond(page_response(req, svc, "", st,
                          render_message(lang_hint, token_only ? "400" : "401 — sign in",
                                         token_only ? "?tenant=, ?host= and ?ticket= name the ticket for a token"
                                         : t.ctx.empty()
                                             ? "Open the sidebar from a ticket: it needs the host's signed context "
                                               "(ctx) or an agent API token."
                                             : "sidebar context: unreadable (expected v1.<payload>.<signature>)")));
    return std::nullopt;
  }
  auto a = auth::authorize(req, svc, t.tenant, auth::role::agent, context_verifier);
  if (!a) {
    std::string why = "access refused";
    const json body = json::parse(a.denied.body(), nullptr, false);
    if (body.is_object()) why = body.value("message", why);
    http_response res = page_response(req, svc, "", a.denied.result(),
                                      render_message(lang_hint, std::to_string(a.denied.result_int()), why));
    if (auto w = a.denied.find(http::field::www_authenticate); w != a.denied.end())
      res.set(http::field::www_authenticate, w->value());
    respond(std::move(res));
    return std::nullopt;
  }
  t.who = *a.who;
  if (!t.ctx.empty() && t.who.kind == "host_context") {
    auto c = verify_context(t.ctx, svc, svc.clk().now());
    if (!c) {  // verified a moment ago; only an expiry in between gets here
      respond(page_response(req, svc, "", http::status::unauthorized, render_message(lang_hint, "401", c.err().message)));
      return std::nullopt;
    }
    t.host = c->host;
    t.ticket = c->ticket;
    t.lang = c->lang;
  } else {
    // A bearer token: the ticket comes from the query/form; the token's tenant was checked.
    t.ctx.clear();
    t.host = field("host");
    t.ticket = field("ticket");
    if (t.host.empty() || t.ticket.empty() || !svc.adapter_for(t.tenant, t.host)) {
      respond(page_response(req, svc, t.tenant, http::status::bad_request,
                            render_message(lang_hint, "400", "host and ticket are required and the host must be one of "
                                                             "tenant \"" + t.tenant + "\"'s")));
      return std::nullopt;
    }
  }
  if (t.lang.empty()) t.lang = field("lang");
  return t;
}

// A context for a token-authorized page, so its correction forms work the same way.
std::string mint(services& svc, const tenant_config& cfg, const std::string& host, const std::string& ticket,
                 const std::string& agent, const std::string& lang) {
  if (cfg.sidebar.secret.empty()) return {};
  context c;
  c.tenant = cfg.id;
  c.host = host;
  c.ticket = ticket;
  c.agent = agent;
  c.lang = lang;
  c.iat = std::chrono::duration_cast<std::chrono::seconds>(svc.clk().now().time_since_epoch()).count();
  c.exp = c.iat + cfg.sidebar.context_ttl.count();
  return sign_context(c, cfg.sidebar.secret);
}

result<view> gather(services& svc, const target& tg) {
  const tenant_runtime* rt = svc.tenant(tg.tenant);
  const tenant_config& cfg = *rt->cfg;
  auto st = svc.db().state(tg.tenant, tg.host, tg.ticket);
  if (!st) return std::move(st).err();
  if (!st->known) return make_error(errc::not_found, "closeloop has seen no event of ticket #" + tg.ticket + " yet");
  view v;
  v.tenant = tg.tenant;
  v.host = tg.host;
  v.ticket = tg.ticket;
  v.lang = sidebar_lang(tg.lang.empty() ? st->language : tg.lang);
  v.subject = st->subject;
  v.status = st->status;
  v.category = st->category;
  v.sentiment = st->sentiment;
  v.language = st->language;
  v.priority = std::string(to_string(st->prio));
  v.first_reply_due = st->sla_first_reply_due;
  v.resolution_due = st->sla_resolution_due;
  v.first_reply_at = st->first_reply_at;
  if (st->status == "solved" || st->status == "closed") v.resolved_at = st->solved_at;
  v.now = svc.clk().now();
  if (auto it = st->kb.find("category_confidence"); it != st->kb.end() && it->is_number()) v.confidence = it->get<double>();
  if (st->corrections.is_array())
    for (const auto& c : st->corrections)
      if (c.contains("to") && c["to"].is_string())
        v.corrected.emplace_back(c.value("field", ""), c["to"].get<std::string>());
  if (svc.health()) {
    if (auto d = svc.health()->ticket_decisions(tg.tenant, tg.host, tg.ticket); d && d->contains("set_priority")) {
      for (const auto& r : (*d)["set_priority"].value("reasons", json::array()))
        if (r.is_string()) v.priority_reasons.push_back(r.get<std::string>());
    }
    v.customer = health::normalize_customer(st->requester_email);
    if (!v.customer.empty() && cfg.health.enabled) {
      const auto now = svc.clk().now();
      if (auto a = customer_health::assess(*svc.health(), cfg, v.customer, now); a && (a->tickets || a->answers))
        v.health = *a;
      const auto since = now - std::chrono::duration_cast<std::chrono::milliseconds>(cfg.health.window);
      if (auto f = svc.health()->facts(tg.tenant, v.customer, since)) {
        std::sort(f->answers.begin(), f->answers.end(), [](const auto& x, const auto& y) { return x.at > y.at; });
        const survey_policy& sp = cfg.pol.survey;
        for (const auto& a : f->answers) {
          const int bad = sp.find_definition(a.kind) ? sp.find_definition(a.kind)->negative_at_or_below()
                                                     : sp.bad_at_or_below(a.kind);
          v.answers.push_back({a.ticket_id, a.kind, day_of(a.at), a.score, a.score <= bad,
                               a.host == tg.host && a.ticket_id == tg.ticket});
        }
      }
    }
  }
  if (auto s = kb::suggestions_for(svc, tg.tenant, tg.host, *st, cfg.pol.kb.suggest.limit > 0 ? cfg.pol.kb.suggest.limit : 3))
    for (const auto& a : (*s)["suggestions"])
      v.articles.push_back({a.value("title", ""), a.value("url", ""), a.value("similarity", 0.0), a.value("draft", false)});
  v.ctx = tg.ctx.empty() ? mint(svc, cfg, tg.host, tg.ticket, tg.who.label.empty() ? tg.who.id : tg.who.label, tg.lang)
                         : tg.ctx;
  if (!v.ctx.empty())
    for (const char* f : {"category", "priority", "sentiment"}) {
      correction_form form;
      form.field = f;
      form.current = current_value(*st, f);
      form.choices = choices_for(cfg, f);
      form.sid = html::new_submission_id();
      form.csrf = form_token(cfg.sidebar.secret, v.ctx, form.sid);
      v.forms.push_back(std::move(form));
    }
  return v;
}

void respond_view(const http_request& req, services& svc, const target& tg, respond_fn& respond, std::string notice,
                  std::string error_text, http::status status) {
  auto v = gather(svc, tg);
  if (!v) {
    const bool missing = v.err().code == errc::not_found;
    respond(page_response(req, svc, tg.tenant, missing ? http::status::not_found : http::status::service_unavailable,
                          render_message(sidebar_lang(tg.lang), missing ? "404" : "503", v.err().message)));
    return;
  }
  v->notice = std::move(notice);
  v->error = std::move(error_text);
  respond(page_response(req, svc, tg.tenant, status, render_page(*v)));
}

}  // namespace

http_response page_response(const http_request& req, services& svc, std::string_view tenant, http::status status,
                            std::string body) {
  // The host pages that may frame the sidebar: this server, the tenant's hosts' own origins, and
  // the SaaS vendors' app domains.
  std::string ancestors = "'self'";
  if (const tenant_runtime* rt = svc.tenant(tenant); rt && rt->cfg) {
    for (const auto& h : rt->cfg->hosts) {
      for (const char* key : {"base_url", "url"})
        if (auto it = h.settings.find(key); it != h.settings.end() && it->is_string())
          if (auto o = html::origin_of(it->get<std::string>()); !o.empty() && o.find_first_of(" ;'\"") == std::string::npos)
            ancestors += " " + o;
      if (h.vendor == "zendesk") ancestors += " https://*.zendesk.com https://*.zdusercontent.com";
      if (h.vendor == "freshdesk") ancestors += " https://*.freshdesk.com https://*.freshworks.com https://*.myfreshworks.com";
    }
  }
  http_response res{status, req.version()};
  res.set(http::field::server, "closeloop");
  res.set(http::field::content_type, "text/html; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  // same-origin: the context in the URL never goes to another site (article links are also
  // rel=noreferrer), and the correction form still gets a real Origin (no-referrer makes it "null").
  res.set("Referrer-Policy", "same-origin");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; "
                                     "frame-ancestors " + ancestors);
  res.keep_alive(req.keep_alive());
  if (req.method() == http::verb::head) body.clear();
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

void handle_page(const http_request& req, services& svc, const route_params&, respond_fn respond) {
  auto tg = resolve(req, svc, {}, respond);
  if (!tg) return;
  std::string notice;
  if (auto done = query_param(req.target(), "done"); done && (*done == "category" || *done == "priority" || *done == "sentiment"))
    notice = notice_text(sidebar_lang(tg->lang), *done, query_param(req.target(), "to").value_or(""));
  respond_view(req, svc, *tg, respond, std::move(notice), {}, http::status::ok);
}

void handle_correction(const http_request& req, services& svc, const route_params&, respond_fn respond) {
  auto ct = req.find(http::field::content_type);
  if (ct == req.end() || !std::string_view(ct->value()).starts_with("application/x-www-form-urlencoded")) {
    respond(page_response(req, svc, "", http::status::unsupported_media_type,
                          render_message("en", "415", "send the correction as an application/x-www-form-urlencoded form")));
    return;
  }
  if (!html::valid_utf8(req.body())) {
    respond(page_response(req, svc, "", http::status::bad_request, render_message("en", "400", "the form is not UTF-8")));
    return;
  }
  const auto form = html::parse_form(req.body());
  auto tg = resolve(req, svc, form, respond);
  if (!tg) return;
  auto get = [&](std::string_view name) {
    for (const auto& [n, v] : form)
      if (n == name) return v;
    return std::string();
  };
  const tenant_config& cfg = *svc.tenant(tg->tenant)->cfg;
  const std::string sid = get("_sid"), field = get("field"), value = get("value");
  if (!tg->ctx.empty()) {
    // A browser form: same-origin and the form token of this context (no cookies exist, so the
    // context itself is the credential; the token ties the form to it).
    if (!html::same_origin(req, svc)) {
      respond(page_response(req, svc, tg->tenant, http::status::forbidden,
                            render_message(sidebar_lang(tg->lang), "403", "the form was posted from another site")));
      return;
    }
    if (!html::valid_submission_id(sid) ||
        !adapters::crypto::constant_time_equal(form_token(cfg.sidebar.secret, tg->ctx, sid), get("_csrf"))) {
      respond(page_response(req, svc, tg->tenant, http::status::forbidden,
                            render_message(sidebar_lang(tg->lang), "403", "the form token is missing or wrong; reload the sidebar")));
      return;
    }
  } else if (!html::valid_submission_id(sid)) {
    respond(page_response(req, svc, tg->tenant, http::status::bad_request,
                          render_message("en", "400", "_sid must be 32 lower-case hex characters (one per correction)")));
    return;
  }
  auto st = svc.db().state(tg->tenant, tg->host, tg->ticket);
  if (!st || !st->known) {
    respond(page_response(req, svc, tg->tenant, st ? http::status::not_found : http::status::service_unavailable,
                          render_message(sidebar_lang(tg->lang), st ? "404" : "503",
                                         st ? "closeloop has seen no event of this ticket" : st.err().message)));
    return;
  }
  if (field != "category" && field != "priority" && field != "sentiment") {
    respond_view(req, svc, *tg, respond, {}, "field must be category, priority or sentiment, got \"" + field + "\"",
                 http::status::bad_request);
    return;
  }
  const auto choices = choices_for(cfg, field);
  if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
    respond_view(req, svc, *tg, respond, {}, "\"" + value + "\" is not a " + field + " of this tenant", http::status::bad_request);
    return;
  }
  event ev;
  ev.type = event_type::ticket_updated;
  ev.tenant = tg->tenant;
  ev.host = tg->host;
  ev.ticket_id = tg->ticket;
  ev.host_event_id = "sidebar:" + sid;  // a double submit of one form is recorded once
  ev.occurred_at = svc.clk().now();
  ev.author.id = tg->who.label.empty() ? tg->who.id : tg->who.label;
  ev.author.role = "agent";
  ev.changes = {{field, {{"from", current_value(*st, field)}, {"to", value}}}};
  ev.data = {{"source", "sidebar"}};
  auto shared = std::make_shared<respond_fn>(std::move(respond));
  auto req_copy = std::make_shared<http_request>(req);
  const target t = *tg;
  auto decide = svc.decider(*svc.tenant(tg->tenant));
  svc.db().ingest_async(ev, decide, ingest_options{}, [&svc, shared, req_copy, t, field, value](result<ingest_result> r) {
    svc.post([&svc, shared, req_copy, t, field, value, r = std::move(r)]() mutable {
      if (!r) {
        spdlog::error("sidebar correction not stored tenant={} ticket={}: {}", t.tenant, t.ticket, r.err().message);
        auto res = page_response(*req_copy, svc, t.tenant, http::status::service_unavailable,
                                 render_message(sidebar_lang(t.lang), "503", "the correction could not be stored; try again"));
        res.set(http::field::retry_after, "1");
        (*shared)(std::move(res));
        return;
      }
      if (!r->duplicate) {
        spdlog::info("sidebar correction tenant={} host={} ticket={} field={} by={}", t.tenant, t.host, t.ticket, field,
                     t.who.actor());
        if (svc.audit())
          (void)svc.audit()->append(t.who.actor(), t.tenant, "sidebar.correction", t.host + "/" + t.ticket,
                                    {{"field", field}, {"to", value}});
      }
      if (t.ctx.empty()) {  // an API client: JSON
        (*shared)(json_response(*req_copy, r->duplicate ? http::status::ok : http::status::created,
                                {{"recorded", !r->duplicate}, {"duplicate", r->duplicate}, {"field", field}, {"to", value}}));
        return;
      }
      // Post/redirect/get: a reload does not post again.
      http_response res{http::status::see_other, req_copy->version()};
      res.set(http::field::server, "closeloop");
      res.set(http::field::location, "/sidebar?ctx=" + url_encode(t.ctx) + "&done=" + field + "&to=" + url_encode(value));
      res.set(http::field::cache_control, "no-store");
      res.set("Referrer-Policy", "no-referrer");
      res.keep_alive(req_copy->keep_alive());
      res.prepare_payload();
      (*shared)(std::move(res));
    });
  });
}

void handle(const http_request& req, services& svc, const route_params& p, respond_fn respond) {
  if (req.method() == http::verb::post) handle_correction(req, svc, p, std::move(respond));
  else handle_page(req, svc, p, std::move(respond));
}

void handle_mint(const http_request& req, services& svc, const route_params& p, respond_fn respond) {
  const std::string& tenant = p.at("tenant");
  const std::string& host = p.at("host");
  const std::string& ticket = p.at("ticket");
  const tenant_runtime* rt = svc.tenant(tenant);
  if (!rt || !rt->cfg || !svc.adapter_for(tenant, host)) {
    respond(json_error(req, http::status::not_found, "unknown_host", "tenant \"" + tenant + "\" has no host \"" + host + "\""));
    return;
  }
  if (rt->cfg->sidebar.secret.empty()) {
    respond(json_error(req, http::status::conflict, "no_sidebar_secret",
                       "tenant \"" + tenant + "\" has no sidebar.secret: contexts cannot be signed"));
    return;
  }
  std::string lang;
  if (auto l = query_param(req.target(), "lang")) lang = sidebar_lang(*l);
  const std::string agent = p.who ? (p.who->label.empty() ? p.who->id : p.who->label) : std::string();
  const std::string ctx = mint(svc, *rt->cfg, host, ticket, agent, lang);
  const auto exp = svc.clk().now() + std::chrono::duration_cast<std::chrono::milliseconds>(rt->cfg->sidebar.context_ttl);
  respond(json_response(req, http::status::ok,
                        {{"ctx", ctx},
                         {"url", svc.public_base_url() + "/sidebar?ctx=" + ctx},
                         {"expires_at", format_rfc3339(exp)}}));
}

}  // namespace closeloop::server::sidebar
