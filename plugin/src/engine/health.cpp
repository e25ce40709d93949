// Customer health scoring (closeloop/health.hpp): pure, facts in, score + reasons out.
#include "closeloop/health.hpp"

#include "closeloop/text.hpp"

#include <algorithm>
#include <cctype>

namespace closeloop::health {
namespace {

std::string ticket_ref(const std::string& id) { return "#" + id; }

// "a, b, c" of at most `max` items, then "and N more".
std::string listing(const std::vector<std::string>& items, std::size_t max = 3) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < max; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > max) out += " and " + std::to_string(items.size() - max) + " more";
  return out;
}

int sentiment_value(const std::string& s) { return s == "positive" ? 1 : s == "negative" ? -1 : 0; }

std::string plural(int n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

long long days(std::chrono::seconds s) { return static_cast<long long>(s.count() / 86400); }

}  // namespace

std::string_view to_string(band b) noexcept {
  switch (b) {
    case band::healthy: return "healthy";
    case band::at_risk: return "at_risk";
    case band::churn_risk: return "churn_risk";
  }
  return "healthy";
}

std::optional<band> band_from_string(std::string_view s) noexcept {
  if (s == "healthy") return band::healthy;
  if (s == "at_risk") return band::at_risk;
  if (s == "churn_risk") return band::churn_risk;
  return std::nullopt;
}

std::string normalize_customer(std::string_view email) {
  while (!email.empty() && std::isspace(static_cast<unsigned char>(email.front()))) email.remove_prefix(1);
  while (!email.empty() && std::isspace(static_cast<unsigned char>(email.back()))) email.remove_suffix(1);
  std::string out(email);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

result<options> options::from_json(const json& j) {
  options o;
  if (!j.is_object()) return o;
  try {
    auto secs = [&](const char* key, std::chrono::seconds& into) {
      if (auto it = j.find(key); it != j.end()) into = std::chrono::seconds(it->get<long long>());
    };
    if (auto it = j.find("enabled"); it != j.end()) o.enabled = it->get<bool>();
    if (auto it = j.find("window_days"); it != j.end()) o.window = std::chrono::seconds(it->get<long long>() * 86400);
    if (auto it = j.find("at_risk"); it != j.end()) o.at_risk = it->get<int>();
    if (auto it = j.find("churn_risk"); it != j.end()) o.churn_risk = it->get<int>();
    secs("first_response_s", o.first_response);
    secs("repeat_within_s", o.repeat_within);
    if (auto it = j.find("field"); it != j.end()) o.field = it->get<std::string>();
    if (auto it = j.find("tag_prefix"); it != j.end()) o.tag_prefix = it->get<std::string>();
    if (auto it = j.find("write"); it != j.end()) o.write = it->get<bool>();
  } catch (const json::exception& e) {
    return make_error(errc::invalid_config, std::string("health: ") + e.what());
  }
  return o;  // ranges: the schema; at_risk < churn_risk: the config's cross checks
}

band band_for(int score, const options& o) noexcept {
  if (score >= o.churn_risk) return band::churn_risk;
  if (score >= o.at_risk) return band::at_risk;
  return band::healthy;
}

assessment assess(const inputs& in, const options& o, timestamp now, const bad_threshold_fn& bad_at_or_below) {
  assessment a;
  a.customer = in.customer;
  const timestamp since = now - std::chrono::duration_cast<std::chrono::milliseconds>(o.window);
  const std::string window_text = "in " + std::to_string(days(o.window)) + " days";

  // Tickets of the window, oldest first.
  std::vector<const ticket_facts*> tickets;
  for (const auto& t : in.tickets)
    if (t.created_at >= since) tickets.push_back(&t);
  std::sort(tickets.begin(), tickets.end(),
            [](const ticket_facts* x, const ticket_facts* y) { return x->created_at < y->created_at; });
  a.tickets = static_cast<int>(tickets.size());

  // Survey answers of the window, oldest first.
  std::vector<const answer_facts*> answers;
  for (const auto& s : in.answers)
    if (s.at >= since) answers.push_back(&s);
  std::sort(answers.begin(), answers.end(), [](const answer_facts* x, const answer_facts* y) { return x->at < y->at; });
  a.answers = static_cast<int>(answers.size());
  std::vector<std::string> neg, pos;
  for (const auto* s : answers) {
    const std::string what = (s->kind.empty() ? std::string("csat") : s->kind) + " " + std::to_string(s->score) +
                             " on " + ticket_ref(s->ticket_id);
    if (s->score <= bad_at_or_below(s->kind.empty() ? "csat" : s->kind)) neg.push_back(what);
    else pos.push_back(what);
  }
  a.negative_answers = static_cast<int>(neg.size());
  if (!neg.empty())
    a.reasons.push_back({"negative_answers",
                         std::min(o.negative_answer_cap, o.per_negative_answer * static_cast<int>(neg.size())),
                         plural(static_cast<int>(neg.size()), "negative survey answer", "negative survey answers") +
                             " " + window_text + ": " + listing(neg)});
  if (!pos.empty())
    a.reasons.push_back({"positive_answers",
                         -std::min(o.positive_answer_cap, o.per_positive_answer * static_cast<int>(pos.size())),
                         plural(static_cast<int>(pos.size()), "good survey answer", "good survey answers") + " " +
                             window_text + ": " + listing(pos)});

  // Sentiment: negative tickets, and the latest ticket against the ones before it.
  std::vector<std::string> negative_tickets;
  std::vector<const ticket_facts*> rated;
  for (const auto* t : tickets) {
    if (t->sentiment.empty()) continue;
    rated.push_back(t);
    if (t->sentiment == "negative") negative_tickets.push_back(ticket_ref(t->ticket_id));
  }
  if (!negative_tickets.empty())
    a.reasons.push_back(
        {"negative_sentiment",
         std::min(o.negative_ticket_cap, o.per_negative_ticket * static_cast<int>(negative_tickets.size())),
         plural(static_cast<int>(negative_tickets.size()), "ticket", "tickets") + " written in a negative tone: " +
             listing(negative_tickets)});
  if (rated.size() >= 2) {
    double before = 0;
    for (std::size_t i = 0; i + 1 < rated.size(); ++i) before += sentiment_value(rated[i]->sentiment);
    before /= static_cast<double>(rated.size() - 1);
    const int last = sentiment_value(rated.back()->sentiment);
    if (last - before <= -1.0)
      a.reasons.push_back({"worsening", o.worsening,
                           "sentiment worsening: the latest ticket " + ticket_ref(rated.back()->ticket_id) + " is " +
                               rated.back()->sentiment + ", the " + std::to_string(rated.size() - 1) +
                               " before it were better"});
    else if (last - before >= 1.0)
      a.reasons.push_back({"improving", -o.improving,
                           "sentiment improving: the latest ticket " + ticket_ref(rated.back()->ticket_id) + " is " +
                               rated.back()->sentiment});
  }

  // Repeat contacts: a ticket opened within repeat_within of the previous one.
  std::vector<std::string> repeats;
  for (std::size_t i = 1; i < tickets.size(); ++i)
    if (tickets[i]->created_at - tickets[i - 1]->created_at <= o.repeat_within)
      repeats.push_back(ticket_ref(tickets[i]->ticket_id));
  a.repeats = static_cast<int>(repeats.size());
  if (!repeats.empty())
    a.reasons.push_back({"repeat_contacts", std::min(o.repeat_cap, o.per_repeat * a.repeats),
                         plural(a.repeats, "repeat contact", "repeat contacts") + " (a new ticket within " +
                             std::to_string(days(o.repeat_within)) + " days of the previous one): " +
                             listing(repeats)});

  // Reopens within the window.
  std::vector<std::string> reopened;
  for (const auto* t : tickets)
    for (const auto& at : t->reopened_at)
      if (at >= since) {
        ++a.reopens;
        reopened.push_back(ticket_ref(t->ticket_id));
      }
  if (a.reopens)
    a.reasons.push_back({"reopens", std::min(o.reopen_cap, o.per_reopen * a.reopens),
                         plural(a.reopens, "reopen", "reopens") + ": " + listing(reopened)});

  // SLA breaches. A ticket with due times (policy.sla) breached when its first public agent reply
  // came after the first-reply due time (or none yet and that time has passed), or it was solved
  // after the resolution due time (or is unsolved past it). A ticket without due times keeps the
  // stand-in: no first reply within first_response. Each ticket counts once; both share one cap.
  std::vector<std::string> breached_sla, late;
  for (const auto* t : tickets) {
    const bool done = t->solved_at || t->status == "solved" || t->status == "closed";
    if (t->first_reply_due || t->resolution_due) {
      std::vector<std::string> what;
      if (t->first_reply_due) {
        if (t->first_agent_reply && *t->first_agent_reply > *t->first_reply_due)
          what.push_back("first reply " + format_span(*t->first_agent_reply - *t->first_reply_due) + " late");
        else if (!t->first_agent_reply && !done && now > *t->first_reply_due)
          what.push_back("no first reply, due " + format_span(now - *t->first_reply_due) + " ago");
      }
      if (t->resolution_due) {
        if (t->solved_at && *t->solved_at > *t->resolution_due)
          what.push_back("resolved " + format_span(*t->solved_at - *t->resolution_due) + " late");
        else if (!done && now > *t->resolution_due)
          what.push_back("unresolved " + format_span(now - *t->resolution_due) + " past due");
      }
      if (!what.empty()) {
        std::string item = ticket_ref(t->ticket_id) + " (" + what[0];
        for (std::size_t i = 1; i < what.size(); ++i) item += ", " + what[i];
        breached_sla.push_back(item + ")");
      }
      continue;
    }
    const auto limit = t->created_at + std::chrono::duration_cast<std::chrono::milliseconds>(o.first_response);
    const bool breached = t->first_agent_reply ? *t->first_agent_reply > limit : (!done && now > limit);
    if (breached) late.push_back(ticket_ref(t->ticket_id) + (t->first_agent_reply ? "" : " (no reply yet)"));
  }
  a.breaches = static_cast<int>(breached_sla.size() + late.size());
  const int sla_points = std::min(o.breach_cap, o.per_breach * static_cast<int>(breached_sla.size()));
  if (!breached_sla.empty())
    a.reasons.push_back({"sla_breaches", sla_points,
                         plural(static_cast<int>(breached_sla.size()), "SLA breach", "SLA breaches") + ": " +
                             listing(breached_sla)});
  if (!late.empty())
    a.reasons.push_back({"late_first_reply",
                         std::min(o.breach_cap - sla_points, o.per_breach * static_cast<int>(late.size())),
                         plural(static_cast<int>(late.size()), "ticket", "tickets") + " without SLA due times and without a first reply within " +
                             std::to_string(o.first_response.count() / 3600) + " h: " + listing(late)});

  int score = 0;
  for (const auto& r : a.reasons) score += r.points;
  a.score = std::clamp(score, 0, 100);
  a.level = band_for(a.score, o);
  std::stable_sort(a.reasons.begin(), a.reasons.end(),
                   [](const reason& x, const reason& y) { return std::abs(x.points) > std::abs(y.points); });
  return a;
}

json to_json(const assessment& a) {
  json reasons = json::array();
  for (const auto& r : a.reasons) reasons.push_back({{"code", r.code}, {"points", r.points}, {"text", r.text}});
  return {{"customer", a.customer},
          {"score", a.score},
          {"band", to_string(a.level)},
          {"reasons", reasons},
          {"tickets", a.tickets},
          {"answers", a.answers},
          {"negative_answers", a.negative_answers},
          {"reopens", a.reopens},
          {"repeat_contacts", a.repeats},
          {"late_first_replies", a.breaches},
          {"sla_breaches", a.breaches}};
}

}  // namespace closeloop::health
