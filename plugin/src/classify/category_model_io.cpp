// The category model's file format (category_model.hpp): serialize / save / load. A header line
// (magic + JSON: labels, thresholds, gate, member settings, sizes and FNV-1a checksums), then the
// members' fastText bytes and the optional hashed linear model.
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "category_model_impl.hpp"

namespace closeloop {
namespace fs = std::filesystem;
using nlohmann::json;
using namespace category_detail;

namespace {

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

json settings_to_json(const category_member_settings& s) {
  return {{"dim", s.dim},     {"epoch", s.epoch}, {"lr", s.lr},         {"word_ngrams", s.word_ngrams},
          {"minn", s.minn},   {"maxn", s.maxn},   {"bucket", s.bucket}, {"seed", s.seed}};
}
category_member_settings settings_from_json(const json& j) {
  category_member_settings s;
  s.dim = j.value("dim", s.dim);
  s.epoch = j.value("epoch", s.epoch);
  s.lr = j.value("lr", s.lr);
  s.word_ngrams = j.value("word_ngrams", s.word_ngrams);
  s.minn = j.value("minn", s.minn);
  s.maxn = j.value("maxn", s.maxn);
  s.bucket = j.value("bucket", s.bucket);
  s.seed = j.value("seed", s.seed);
  return s;
}

}  // namespace

std::size_t category_model::serialized_bytes() const { return serialize().size(); }

std::string category_model::serialize() const {
  const impl& m = *impl_;
  json h;
  h["labels"] = m.labels;
  h["reject_label"] = m.reject_label;
  h["thresholds"] = {{"high", m.thresholds.high}, {"medium", m.thresholds.medium}, {"reject", m.thresholds.reject}};
  h["gate"] = {{"n", m.gate.n},
               {"accuracy", m.gate.accuracy},
               {"high_share", m.gate.high_share},
               {"medium_or_better", m.gate.medium_or_better},
               {"active", m.gate.active}};
  h["trained_examples"] = m.trained_examples;
  json members = json::array();
  for (const auto& mem : m.members)
    members.push_back({{"bytes", mem.bytes.size()}, {"fnv1a", fnv1a(mem.bytes)}, {"settings", settings_to_json(mem.settings)}});
  h["members"] = members;
  // Plain models stay format 2 (older builds read them); a model with sentiment features is
  // format 3, so a build that does not know the features refuses it instead of misreading it.
  const int format = m.features == text_features::plain ? 2 : 3;
  h["format"] = format;
  if (m.features == text_features::sentiment) h["features"] = "sentiment";
  if (m.linear)
    h["linear"] = {{"bytes", m.linear_bytes.size()},
                   {"fnv1a", fnv1a(m.linear_bytes)},
                   {"weight", m.linear_weight},
                   {"temperature", m.linear_temperature},
                   {"features", m.linear->n_features()}};
  std::string header = h.dump();
  std::string out(file_magic_prefix);
  out += std::to_string(format) + "\n";
  out += std::to_string(header.size()) + "\n" + header + "\n";
  for (const auto& mem : m.members) out += mem.bytes;
  if (m.linear) out += m.linear_bytes;
  return out;
}

result<void> category_model::save(const std::string& path) const {
  const std::string bytes = serialize();
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return make_error(errc::invalid_argument, path + ": cannot write");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) return make_error(errc::invalid_argument, path + ": write failed");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);  // atomic replace: a reloading reader never sees half a model
  if (ec) return make_error(errc::invalid_argument, path + ": " + ec.message());
  return {};
}

result<category_model> category_model::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(errc::not_found, path + ": cannot open the category model");
  auto r = load_from_memory(read_all(path));
  if (!r) return make_error(r.err().code, path + ": " + r.err().message);
  return r;
}

result<category_model> category_model::load_from_memory(std::string_view bytes) {
  auto bad = [](const std::string& what) { return make_error(errc::invalid_argument, "not a category model: " + what); };
  if (bytes.substr(0, file_magic_prefix.size()) != file_magic_prefix) return bad("wrong magic");
  bytes.remove_prefix(file_magic_prefix.size());
  auto vl = bytes.find('\n');
  if (vl == std::string_view::npos || vl > 8) return bad("no format version");
  const std::string version(bytes.substr(0, vl));
  if (version != "1" && version != "2" && version != "3")
    return make_error(errc::invalid_argument, "category model: unsupported format version " + version +
                                                  " (this build reads versions 1 to " +
                                                  std::to_string(file_format_max) + "); retrain the model");
  bytes.remove_prefix(vl + 1);
  auto nl = bytes.find('\n');
  if (nl == std::string_view::npos || nl > 12) return bad("no header length");
  std::size_t hlen = std::strtoull(std::string(bytes.substr(0, nl)).c_str(), nullptr, 10);
  bytes.remove_prefix(nl + 1);
  if (hlen + 1 > bytes.size()) return bad("truncated header");
  category_model model;
  impl& m = *model.impl_;
  try {
    json h = json::parse(bytes.substr(0, hlen));
    bytes.remove_prefix(hlen + 1);
    m.labels = h.at("labels").get<std::vector<std::string>>();
    m.reject_label = h.at("reject_label").get<std::string>();
    const auto& t = h.at("thresholds");
    m.thresholds = {t.at("high").get<double>(), t.at("medium").get<double>(), t.at("reject").get<double>()};
    const auto& g = h.at("gate");
    m.gate = {g.at("n").get<std::size_t>(), g.at("accuracy").get<double>(), g.at("high_share").get<double>(),
              g.at("medium_or_better").get<double>(), g.at("active").get<bool>()};
    m.trained_examples = h.value("trained_examples", std::size_t{0});
    if (version == "3") {
      const std::string f = h.value("features", std::string("plain"));
      if (f != "plain" && f != "sentiment") return bad("unknown features \"" + f + "\"");
      m.features = f == "sentiment" ? text_features::sentiment : text_features::plain;
    }
    for (const auto& mj : h.at("members")) {
      impl::member mem;
      mem.settings = settings_from_json(mj.at("settings"));
      std::size_t n = mj.at("bytes").get<std::size_t>();
      if (n > bytes.size()) return bad("truncated member");
      mem.bytes = std::string(bytes.substr(0, n));
      bytes.remove_prefix(n);
      if (fnv1a(mem.bytes) != mj.at("fnv1a").get<std::uint64_t>()) return bad("member checksum mismatch");
      auto ft = from_bytes(mem.bytes);
      if (!ft) return ft.err();
      mem.ft = *ft;
      if (auto b = m.bind(mem); !b) return b.err();
      m.members.push_back(std::move(mem));
    }
    if (version != "1" && h.contains("linear")) {
      const auto& lj = h.at("linear");
      std::size_t n = lj.at("bytes").get<std::size_t>();
      if (n > bytes.size()) return bad("truncated linear model");
      m.linear_bytes = std::string(bytes.substr(0, n));
      bytes.remove_prefix(n);
      if (fnv1a(m.linear_bytes) != lj.at("fnv1a").get<std::uint64_t>()) return bad("linear model checksum mismatch");
      auto lin = hashed_linear::from_bytes(m.linear_bytes);
      if (!lin) return bad(lin.err().message);
      if (lin->n_labels() != static_cast<int>(m.labels.size())) return bad("linear model label count mismatch");
      m.linear = std::move(*lin);
      m.linear_weight = std::clamp(lj.at("weight").get<float>(), 0.0f, 1.0f);
      m.linear_temperature = std::max(1e-3f, lj.at("temperature").get<float>());
    }
  } catch (const std::exception& e) {
    return bad(e.what());
  }
  if (m.members.empty() && !m.linear) return bad("no members");
  return model;
}

}  // namespace closeloop
