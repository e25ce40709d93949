#include "server/learning.hpp"

#include "closeloop/text.hpp"

namespace closeloop::server {
namespace {

// The last category an agent set by hand, or "".
std::string corrected_category(const ticket_state& s) {
  std::string label;
  if (!s.corrections.is_array()) return label;
  for (const auto& c : s.corrections)
    if (c.value("field", "") == "category" && c.contains("to") && c["to"].is_string())
      label = c["to"].get<std::string>();
  return label;
}

std::string sentiment_of(const std::string& kind, int score) {
  if (kind == "nps") return score >= 9 ? "positive" : score <= 6 ? "negative" : "neutral";
  if (kind == "ces") return score >= 6 ? "positive" : score <= 3 ? "negative" : "neutral";
  return score >= 4 ? "positive" : score <= 2 ? "negative" : "neutral";
}

result<std::vector<learned_example>> categories(store& db, const export_options& o) {
  std::vector<learned_example> out;
  std::string after_host, after_ticket;
  for (;;) {
    auto page = db.tickets(o.tenant, after_host, after_ticket, 500);
    if (!page) return std::move(page).err();
    if (page->empty()) break;
    for (const auto& t : *page) {
      const ticket_state& s = t.state;
      std::string text = s.subject;
      if (!s.problem.empty()) text += (text.empty() ? "" : "\n") + s.problem;
      if (text.empty()) continue;
      std::string label = corrected_category(s);
      std::string source = "agent";
      if (label.empty()) {
        const bool solved = s.status == "solved" || s.status == "closed" || s.solve_count > 0;
        if (o.corrected_only || !solved || s.category.empty() || s.category == "other") continue;
        label = s.category;
        source = "confirmed";
      }
      // Exported training data leaves closeloop: the same scrubber as KB drafts (issue 6).
      out.push_back({scrub_pii(text), std::move(label), std::move(source), t.host + "/" + t.ticket_id});
    }
    after_host = page->back().host;
    after_ticket = page->back().ticket_id;
  }
  return out;
}

result<std::vector<learned_example>> sentiments(store& db, const export_options& o) {
  std::vector<learned_example> out;
  std::int64_t after = 0;
  for (;;) {
    auto page = db.events(after, 1000);
    if (!page) return std::move(page).err();
    if (page->empty()) break;
    for (const auto& se : *page) {
      const event& ev = se.ev;
      if (ev.tenant != o.tenant || ev.type != event_type::survey_answered || !ev.data.is_object()) continue;
      const std::string comment = ev.data.value("comment", "");
      const json score = ev.data.value("score", json());
      if (comment.empty() || !score.is_number_integer()) continue;
      // "kind" names the scale (csat/nps/ces); older answers only had "survey".
      const std::string kind = ev.data.value("kind", ev.data.value("survey", std::string("csat")));
      out.push_back({scrub_pii(comment), sentiment_of(kind, score.get<int>()), "survey", ev.host + "/" + ev.ticket_id});
    }
    after = page->back().seq;
  }
  return out;
}

}  // namespace

result<std::vector<learned_example>> export_learning_data(store& db, const export_options& o) {
  if (o.tenant.empty()) return make_error(errc::invalid_argument, "export: --tenant is required");
  if (o.task == "category") return categories(db, o);
  if (o.task == "sentiment") return sentiments(db, o);
  return make_error(errc::invalid_argument, "export: --task must be category or sentiment, got \"" + o.task + "\"");
}

}  // namespace closeloop::server
