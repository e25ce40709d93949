// Report assembly and CSV (report.hpp).
#include "monitor/report.hpp"

namespace closeloop::monitor {

report_spec last_complete(const std::string& tenant, period per, std::int64_t today) {
  report_spec s;
  s.tenant = tenant;
  s.per = per;
  const std::int64_t yesterday = today - 1;
  switch (per) {
    case period::day: s.from_day = s.to_day = yesterday; break;
    case period::week:
    case period::month: {
      s.to_day = period_start(today, per) - 1;
      s.from_day = period_start(s.to_day, per);
      break;
    }
    case period::all: s.from_day = 0, s.to_day = yesterday; break;
  }
  return s;
}

result<nlohmann::json> build_report(monitor_db& db, const report_spec& spec) {
  using nlohmann::json;
  if (spec.from_day > spec.to_day) return make_error(errc::invalid_argument, "the report's from date is after its to date");
  json out = {{"tenant", spec.tenant},
              {"title", spec.title.empty() ? "Satisfaction report" : spec.title},
              {"period", to_string(spec.per)},
              {"from", day_string(spec.from_day)},
              {"to", day_string(spec.to_day)}};
  auto totals = db.query({spec.tenant, dimension::all, period::all, spec.from_day, spec.to_day});
  if (!totals) return totals.err();
  tally total = totals->empty() ? tally{} : totals->front().t;
  out["totals"] = to_json(total);
  out["nps_distribution"] = total.nps_hist;
  auto trend = db.query({spec.tenant, dimension::all, spec.per, spec.from_day, spec.to_day});
  if (!trend) return trend.err();
  json tr = json::array();
  for (const auto& r : *trend) {
    json j = to_json(r.t);
    j["period"] = day_string(r.period_start);
    tr.push_back(std::move(j));
  }
  out["trend"] = std::move(tr);
  json segs = json::object();
  for (dimension d : spec.segments) {
    if (d == dimension::all) continue;
    auto rows = db.query({spec.tenant, d, period::all, spec.from_day, spec.to_day});
    if (!rows) return rows.err();
    json arr = json::array();
    for (const auto& r : *rows) {
      json j = to_json(r.t);
      j["segment"] = r.segment;
      arr.push_back(std::move(j));
    }
    segs[std::string(to_string(d))] = std::move(arr);
  }
  out["segments"] = std::move(segs);
  return out;
}

std::string csv_cell(std::string_view s) {
  std::string v(s);
  if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@')) {
    // A number stays a number; anything else that a spreadsheet would evaluate gets a quote.
    bool numeric = v.size() > 1 && v.find_first_not_of("0123456789.eE+-") == std::string::npos;
    if (!numeric) v.insert(v.begin(), '\'');
  }
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string q = "\"";
  for (char c : v) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

namespace {

const char* const k_csv_fields[] = {"tickets",      "solved",         "reopened",       "surveyed",
                                    "answered",     "csat_n",         "nps_n",          "ces_n",
                                    "inferred_n",   "csat",           "nps",            "ces",
                                    "response_rate", "reopen_rate",   "first_response_s", "resolution_s",
                                    "negative_share", "positive_share", "inferred_csat"};

std::string cell_of(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return csv_cell(v.get<std::string>());
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v.get<double>());
    return buf;
  }
  return v.dump();
}

void csv_line(std::string& out, std::string_view section, std::string_view segment, std::string_view per,
              const nlohmann::json& block) {
  out += csv_cell(section) + "," + csv_cell(segment) + "," + csv_cell(per);
  for (const char* f : k_csv_fields) out += "," + cell_of(block.value(f, nlohmann::json()));
  out += "\r\n";
}

}  // namespace

std::string report_csv(const nlohmann::json& r) {
  std::string out = "section,segment,period";
  for (const char* f : k_csv_fields) out += std::string(",") + f;
  out += "\r\n";
  if (r.contains("totals") && !r["totals"].empty())
    csv_line(out, "totals", "", r.value("from", "") + ".." + r.value("to", ""), r["totals"]);
  for (const auto& t : r.value("trend", nlohmann::json::array())) csv_line(out, "trend", "", t.value("period", ""), t);
  for (const auto& [dim, rows] : r["segments"].items())
    for (const auto& s : rows) {
      const auto& p = s.value("period", nlohmann::json());
      csv_line(out, dim, s.value("segment", ""), p.is_string() ? p.get<std::string>() : std::string(), s);
    }
  return out;
}

std::string facts_csv(const std::vector<fact>& facts) {
  std::string out =
      "host,ticket_id,day,agent,group,category,channel,language,tier,sentiment,solved,reopens,surveyed,kind,score,"
      "first_response_s,resolution_s\r\n";
  auto opt = [](const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : std::string(); };
  for (const auto& f : facts) {
    out += csv_cell(f.host) + "," + csv_cell(f.ticket_id) + "," + day_string(f.day) + "," + csv_cell(f.agent) + "," +
           csv_cell(f.group) + "," + csv_cell(f.category) + "," + csv_cell(f.channel) + "," + csv_cell(f.language) +
           "," + csv_cell(f.tier) + "," + csv_cell(f.sentiment) + "," + (f.solved ? "1" : "0") + "," +
           std::to_string(f.reopens) + "," + (f.surveyed ? "1" : "0") + "," + csv_cell(f.kind) + "," +
           (f.score ? std::to_string(*f.score) : "") + "," + opt(f.first_response_s) + "," + opt(f.resolution_s) +
           "\r\n";
  }
  return out;
}

}  // namespace closeloop::monitor
