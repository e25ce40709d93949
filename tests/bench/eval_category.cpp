// closeloop_bench_eval_category: accuracy, calibration, training time, model size and prediction
// speed of the category model on ../shared/datasets (see README.md, "Category benchmark").
//
//   banking77  train.csv, a fixed-seed stratified hold-out (--val-share, default 0.15) as validation
//   clinc150   train.json -> val.json; the reject (oos) threshold is picked on one half of val and
//              measured on the other half (honest), and also picked and measured on all of val
//   shopping   online_shopping_10_cats.csv, `cat` column (test fixture only: evaluated, never
//              shipped), a fixed-seed stratified 80/20 split
//
// On banking77 it also times the whole pipeline per text, one thread (what `closeloop classify
// --model-dir` does: clean_text + classify_text + the JSON line), each stage alone, and raw
// fastText predictLine in the same run as the reference; --pipeline-out writes every answer.
//
// Prints one human block and one JSON line per dataset. Never asserts on figures.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "closeloop/category_model.hpp"
#include "closeloop/classifier.hpp"
#include "closeloop/classify_text.hpp"
#include "closeloop/dataset.hpp"
#include "closeloop/language.hpp"
#include "closeloop/sentiment.hpp"

using namespace closeloop;
using nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace {

struct settings {
  std::string datasets = "../shared/datasets";
  std::set<std::string> only;
  std::size_t max_rows = 0;
  double val_share = 0.15;
  int threads = 2;
  std::string members;  // "dim=100,epoch=40,wng=2,minn=3,maxn=5,lr=0.5,bucket=200000,seed=1;..."
  double speed_seconds = 1.0;
  bool quantize = true;
  bool linear = true;
  bool retrain = false;
  int linear_epochs = -1;
  double linear_lr = -1, linear_lambda = -1;
  int quant_rows = -1;
  int linear_minn = -1, linear_maxn = -1;
  long linear_bytes = -1;
  bool linear_average = false;
  std::size_t max_model_bytes = 0;
  // The whole pipeline (`closeloop classify --model-dir`): learned sentiment / urgency models to
  // use next to the category model, and a file to write every pipeline answer to (JSON lines).
  std::string sentiment_model, urgency_model, pipeline_out;
  std::size_t other_texts = 300;  // Chinese and English sentiment texts added to the pipeline run
};

double since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "eval_category: %s\n", what.c_str());
  std::exit(2);
}

std::vector<category_member_settings> parse_members(const std::string& spec) {
  std::vector<category_member_settings> out;
  if (spec == "none") return out;  // the hashed linear model alone
  std::size_t pos = 0;
  while (pos <= spec.size()) {
    std::size_t end = spec.find(';', pos);
    if (end == std::string::npos) end = spec.size();
    std::string one = spec.substr(pos, end - pos);
    pos = end + 1;
    if (one.empty()) continue;
    category_member_settings m;
    std::size_t p = 0;
    while (p <= one.size()) {
      std::size_t e = one.find(',', p);
      if (e == std::string::npos) e = one.size();
      std::string kv = one.substr(p, e - p);
      p = e + 1;
      auto eq = kv.find('=');
      if (eq == std::string::npos) die("member setting without '=': " + kv);
      std::string k = kv.substr(0, eq);
      double v = std::atof(kv.c_str() + eq + 1);
      if (k == "dim") m.dim = static_cast<int>(v);
      else if (k == "epoch") m.epoch = static_cast<int>(v);
      else if (k == "lr") m.lr = v;
      else if (k == "wng") m.word_ngrams = static_cast<int>(v);
      else if (k == "minn") m.minn = static_cast<int>(v);
      else if (k == "maxn") m.maxn = static_cast<int>(v);
      else if (k == "bucket") m.bucket = static_cast<int>(v);
      else if (k == "seed") m.seed = static_cast<int>(v);
      else die("unknown member setting " + k);
    }
    out.push_back(m);
  }
  return out;
}

dataset load(const std::string& path, const std::vector<std::string>& label_columns, std::size_t max_rows) {
  dataset_options o;
  o.label_columns = label_columns;
  o.max_rows = max_rows;
  auto d = read_dataset(path, o);
  if (!d) die(d.err().message);
  return std::move(*d);
}

// Fixed-seed stratified split: `share` of each label goes to the second part.
std::pair<std::vector<labelled_text>, std::vector<labelled_text>> split(const std::vector<labelled_text>& rows,
                                                                        double share, unsigned seed) {
  std::map<std::string, std::vector<std::size_t>> by;
  for (std::size_t i = 0; i < rows.size(); ++i) by[rows[i].label].push_back(i);
  std::mt19937 rng(seed);
  std::vector<labelled_text> a, b;
  for (auto& [l, idx] : by) {
    std::shuffle(idx.begin(), idx.end(), rng);
    auto k = static_cast<std::size_t>(share * static_cast<double>(idx.size()) + 0.5);
    for (std::size_t j = 0; j < idx.size(); ++j) (j < k ? b : a).push_back(rows[idx[j]]);
  }
  return {a, b};
}

struct figures {
  double accuracy = 0, macro_f1 = 0, in_scope = 0, oos_recall = 0;
  std::size_t n = 0;
  double band_share[3] = {0, 0, 0}, band_acc[3] = {0, 0, 0};
};

figures evaluate(const category_model& m, const std::vector<labelled_text>& test, bool with_reject) {
  figures f;
  std::map<std::string, std::array<std::size_t, 3>> c;  // tp, fp, support
  std::size_t right = 0, in_n = 0, in_ok = 0, oos_n = 0, oos_ok = 0;
  std::size_t bands[3] = {0, 0, 0}, band_ok[3] = {0, 0, 0};
  for (const auto& r : test) {
    auto p = m.predict(r.text);
    const std::string& ans = with_reject ? p.label : p.top_label;
    c[r.label][2]++;
    if (ans == r.label) {
      ++right;
      c[r.label][0]++;
    } else {
      c[ans][1]++;
    }
    auto b = static_cast<std::size_t>(p.band);
    bands[b]++;
    band_ok[b] += p.top_label == r.label ? 1 : 0;
    if (r.label == m.reject_label()) {
      ++oos_n;
      oos_ok += p.label == m.reject_label() ? 1 : 0;
    } else {
      ++in_n;
      in_ok += p.label == r.label ? 1 : 0;
    }
  }
  f.n = test.size();
  f.accuracy = test.empty() ? 0 : static_cast<double>(right) / static_cast<double>(test.size());
  double f1 = 0;
  std::size_t k = 0;
  for (const auto& [l, v] : c) {
    if (v[2] == 0) continue;
    double prec = v[0] + v[1] ? static_cast<double>(v[0]) / static_cast<double>(v[0] + v[1]) : 0;
    double rec = static_cast<double>(v[0]) / static_cast<double>(v[2]);
    f1 += prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0;
    ++k;
  }
  f.macro_f1 = k ? f1 / static_cast<double>(k) : 0;
  f.in_scope = in_n ? static_cast<double>(in_ok) / static_cast<double>(in_n) : 0;
  f.oos_recall = oos_n ? static_cast<double>(oos_ok) / static_cast<double>(oos_n) : 0;
  for (int b = 0; b < 3; ++b) {
    f.band_share[b] = test.empty() ? 0 : static_cast<double>(bands[b]) / static_cast<double>(test.size());
    f.band_acc[b] = bands[b] ? static_cast<double>(band_ok[b]) / static_cast<double>(bands[b]) : 0;
  }
  return f;
}

json to_json(const figures& f) {
  return {{"n", f.n},
          {"accuracy", f.accuracy},
          {"macro_f1", f.macro_f1},
          {"bands", {{"high", {f.band_share[2], f.band_acc[2]}},
                     {"medium", {f.band_share[1], f.band_acc[1]}},
                     {"low", {f.band_share[0], f.band_acc[0]}}}}};
}

// Texts per second over `texts`, repeated until `seconds` have passed.
template <typename F>
double rate(const std::vector<std::string>& texts, double seconds, F&& f) {
  std::size_t n = 0;
  auto t0 = clock_type::now();
  double el = 0;
  do {
    for (const auto& t : texts) f(t);
    n += texts.size();
  } while ((el = since(t0)) < seconds);
  return static_cast<double>(n) / el;
}

category_model train(const settings& s, const std::vector<labelled_text>& rows, json& out) {
  category_train_options o;
  if (!s.members.empty()) o.members = parse_members(s.members);
  o.threads = s.threads;
  o.quantize = s.quantize;
  o.linear = s.linear;
  o.retrain_members = s.retrain;
  if (s.linear_epochs > 0) o.linear_settings.epochs = s.linear_epochs;
  if (s.linear_lr > 0) o.linear_settings.lr = s.linear_lr;
  if (s.linear_lambda >= 0) o.linear_settings.lambda = s.linear_lambda;
  o.linear_settings.average = s.linear_average;
  if (s.linear_minn >= 0) o.linear_settings.minn = s.linear_minn;
  if (s.linear_maxn >= 0) o.linear_settings.maxn = s.linear_maxn;
  if (s.linear_bytes > 0) o.linear_settings.max_bytes = static_cast<std::size_t>(s.linear_bytes);
  if (s.max_model_bytes > 0) o.max_model_bytes = s.max_model_bytes;
  if (s.quant_rows > 0) o.max_quantized_rows = static_cast<std::size_t>(s.quant_rows);
  auto t0 = clock_type::now();
  auto m = category_model::train(rows, o);
  if (!m) die(m.err().message);
  out["train_seconds"] = since(t0);
  out["train_n"] = rows.size();
  out["labels"] = m->labels().size();
  out["model_bytes"] = m->serialized_bytes();
  out["members"] = m->members();
  out["linear_weight"] = m->linear_weight();
  const auto& g = m->gate();
  out["gate"] = {{"n", g.n}, {"accuracy", g.accuracy}, {"high_share", g.high_share},
                 {"medium_or_better", g.medium_or_better}, {"active", g.active}};
  const auto& t = m->thresholds();
  out["thresholds"] = {{"high", t.high}, {"medium", t.medium}, {"reject", t.reject}};
  std::printf("  trained on %zu texts in %.2f s (%d threads), %zu labels, %zu fastText members%s (linear weight "
              "%.2f), model %zu bytes\n",
              rows.size(), out["train_seconds"].get<double>(), s.threads, m->labels().size(), m->members(),
              m->has_linear() ? " + hashed linear" : "", m->linear_weight(), m->serialized_bytes());
  std::printf("  thresholds: high >= %.3f, medium >= %.3f, reject < %.3f; gate on hold-out of %zu: acc %.4f, "
              "high %.1f %%, medium+ %.1f %% -> %s\n",
              t.high, t.medium, t.reject, g.n, g.accuracy, 100 * g.high_share, 100 * g.medium_or_better,
              g.active ? "active" : "suggest only");
  return std::move(*m);
}

void print_figures(const char* what, const figures& f) {
  std::printf("  %s: n %zu, accuracy %.4f, macro F1 %.4f; bands high %.1f %% (acc %.3f), medium %.1f %% (acc %.3f), "
              "low %.1f %% (acc %.3f)\n",
              what, f.n, f.accuracy, f.macro_f1, 100 * f.band_share[2], f.band_acc[2], 100 * f.band_share[1],
              f.band_acc[1], 100 * f.band_share[0], f.band_acc[0]);
}

void speed(const settings& s, const category_model& m, const std::vector<labelled_text>& test, json& out) {
  std::vector<std::string> texts, normalized;
  for (const auto& r : test) {
    texts.push_back(r.text);
    normalized.push_back(normalize_for_category(r.text));
  }
  std::size_t sink = 0;
  double raw = rate(normalized, s.speed_seconds, [&](const std::string& t) { sink += m.predict_raw_first_member(t).size(); });
  double full = rate(texts, s.speed_seconds, [&](const std::string& t) { sink += m.predict(t).label.size(); });
  out["predict_per_second"] = full;
  out["raw_fasttext_per_second"] = raw;
  std::printf("  prediction (one thread): %.0f texts/s (normalise + %zu-member ensemble + bands); raw fastText "
              "predictLine, first member, pre-normalised: %.0f texts/s (ratio %.2f)%s\n",
              full, m.members(), raw, full / raw, sink == 0 ? " " : "");
}

// Up to `n` texts of a file: the column `col` of tab-separated lines (chnsenticorp, vader), or
// for a CSV read through read_dataset every (rows / n)-th text (waimai_10k is sorted by label).
std::vector<std::string> tsv_texts(const std::string& path, int col, std::size_t n) {
  std::vector<std::string> out;
  std::ifstream f(path);
  std::string line;
  while (out.size() < n && std::getline(f, line)) {
    std::size_t start = 0;
    for (int c = 0; c < col && start != std::string::npos; ++c) {
      start = line.find('\t', start);
      if (start != std::string::npos) ++start;
    }
    if (start == std::string::npos) continue;
    out.push_back(line.substr(start, line.find('\t', start) - start));
  }
  return out;
}
std::vector<std::string> spread_texts(const std::string& path, std::size_t n) {
  std::vector<std::string> out;
  dataset_options o;
  auto d = read_dataset(path, o);
  if (!d || d->rows.empty()) return out;
  const std::size_t step = std::max<std::size_t>(1, d->rows.size() / std::max<std::size_t>(1, n));
  for (std::size_t i = 0; i < d->rows.size() && out.size() < n; i += step) out.push_back(d->rows[i].text);
  return out;
}

// The whole pipeline, one thread, per input text exactly what `closeloop classify --model-dir`
// does (clean_text, then classify_text: language, lexicon sentiment or the learned sentiment
// model, urgency cues or the learned urgency model, priority and reasons, the category model),
// plus the JSON line it prints; each stage alone; raw fastText in the same run as the reference.
void pipeline(const settings& s, const category_model& m, const std::vector<labelled_text>& test, json& out) {
  rule_classifier_config rcfg;
  rcfg.sentiment_model_path = s.sentiment_model;
  rcfg.urgency_model_path = s.urgency_model;
  rule_classifier rules{rcfg};
  if (!s.sentiment_model.empty() && !rules.sentiment_model()) die(rules.sentiment_model_error());
  if (!s.urgency_model.empty() && !rules.urgency_model()) die(rules.urgency_model_error());
  std::vector<std::string> raw_texts, texts, normalized, languages;
  for (const auto& r : test) raw_texts.push_back(r.text);
  for (const auto& r : raw_texts) {
    texts.push_back(clean_text(r));
    normalized.push_back(normalize_for_category(texts.back()));
    languages.push_back(identify_language(texts.back()).tag);
  }
  std::size_t sink = 0;
  const double secs = s.speed_seconds;
  const double raw = rate(normalized, secs, [&](const std::string& t) { sink += m.predict_raw_first_member(t).size(); });
  const double clean = rate(raw_texts, secs, [&](const std::string& t) { sink += clean_text(t).size(); });
  const double lang = rate(texts, secs, [&](const std::string& t) { sink += identify_language(t).tag.size(); });
  std::size_t li = 0;
  const double senti = rate(texts, secs, [&](const std::string& t) {
    sink += score_sentiment(t, languages[li++ % languages.size()]).label.size();
  });
  const double rules_rate = rate(texts, secs, [&](const std::string& t) {
    event ev;
    ev.text = t;
    sink += rules.classify(ev).reasons.size();
  });
  const double category = rate(texts, secs, [&](const std::string& t) { sink += m.predict(t).label.size(); });
  // classify_text (the answer built as a JSON value, not printed; the CLI's path for the other
  // tasks, and for "all" before it wrote the line directly).
  const double answer = rate(texts, secs, [&](const std::string& t) { sink += classify_text(rules, &m, t).size(); });
  std::string line;
  auto whole_one = [&](const std::string& t) {
    const std::string cleaned = clean_text(t);
    classify_text_line(rules, &m, cleaned, line);  // what the CLI prints for task "all"
    sink += line.size();
  };
  const double whole = rate(raw_texts, secs, whole_one);
  // Chinese (Simplified and Traditional) and English review texts through the same pipeline.
  std::vector<std::string> others = tsv_texts(s.datasets + "/sentiment_zh/chnsenticorp/dev.tsv", 0, s.other_texts / 3);
  for (auto& t : spread_texts(s.datasets + "/sentiment_zh/waimai_10k.csv", s.other_texts / 3)) others.push_back(std::move(t));
  for (auto& t : tsv_texts(s.datasets + "/sentiment_en/vader/amazon_groundtruth.tsv", 2, s.other_texts / 3))
    others.push_back(std::move(t));
  for (const auto& t : others) whole_one(t);  // once untimed: OpenCC's tables load on the first Chinese text
  const double whole_others = others.empty() ? 0 : rate(others, secs, whole_one);
  // The fast path must give the same bits as the straightforward one (fastText's own predict,
  // the scalar linear loop) on every text: otherwise the figures above are not worth having.
  // The learned sentiment / urgency models (when given) are checked the same way.
  std::size_t checked = 0, differ = 0;
  const auto sentiment_model = rules.sentiment_model(), urgency_model = rules.urgency_model();
  for (const category_model* model : {&m, sentiment_model.get(), urgency_model.get()}) {
    if (!model) continue;
    for (const auto* set : {&texts, &others})
      for (const auto& t : *set) {
        const std::string cleaned = clean_text(t);
        const auto a = model->probabilities(cleaned), b = model->probabilities_reference(cleaned);
        ++checked;
        bool same = a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
        // predict() finds the top without every label's exact value: the same top and probability.
        if (!b.empty()) {
          const auto top = static_cast<std::size_t>(std::max_element(b.begin(), b.end()) - b.begin());
          const auto pr = model->predict(cleaned);
          if (b[top] > 0.0f)
            same = same && pr.top_label == model->labels()[top] && pr.probability == static_cast<double>(b[top]);
          else
            same = same && pr.needs_review && pr.top_label.empty();
        }
        // The line the CLI writes directly against the JSON value's dump (once per text).
        if (model == &m) {
          classify_text_line(rules, &m, cleaned, line);
          same = same && line == classify_text(rules, &m, cleaned).dump();
        }
        if (!same && differ++ < 3) std::printf("    differs from the reference path: %s\n", cleaned.substr(0, 80).c_str());
      }
  }
  out["fast_equals_reference"] = {{"checked", checked}, {"differ", differ}};
  json st = {{"clean_text", clean},      {"language", lang},         {"sentiment_lexicon", senti},
             {"rules", rules_rate},      {"category", category},     {"answer", answer},  {"whole", whole},
             {"raw_fasttext", raw},      {"ratio_whole_raw", whole / raw},
             {"whole_other_texts", whole_others}, {"other_texts", others.size()},
             {"sentiment_model", !s.sentiment_model.empty()}, {"urgency_model", !s.urgency_model.empty()}};
  out["pipeline_per_second"] = st;
  std::printf("  whole pipeline, one thread, texts/s (what `closeloop classify --model-dir` does per text%s%s):\n",
              s.sentiment_model.empty() ? "" : "; learned sentiment model", s.urgency_model.empty() ? "" : "; learned urgency model");
  std::printf("    clean_text %.0f | language %.0f | sentiment lexicon %.0f | rules (language + sentiment + cues + "
              "priority%s) %.0f | category model %.0f\n",
              clean, lang, senti, s.sentiment_model.empty() && s.urgency_model.empty() ? "" : " + learned models",
              rules_rate, category);
  std::printf("    classify_text (the answer built as a JSON value, not printed: the path before the direct line) %.0f\n",
              answer);
  std::printf("    whole (clean + classify_text + JSON line) %.0f on %zu banking77 texts, %.0f on %zu zh/en review "
              "texts; raw fastText predictLine %.0f; ratio whole/raw %.2f%s\n",
              whole, raw_texts.size(), whole_others, others.size(), raw, whole / raw, sink == 0 ? " " : "");
  std::printf("    fast path (%zu of %zu fastText members) vs reference path (fastText's own predict, scalar linear; "
              "probabilities, top label, JSON line): %zu texts x models, %zu differ\n",
              m.fast_path_members(), m.members(), checked, differ);
  if (differ) die("the fast prediction path differs from the reference path");
  if (!s.pipeline_out.empty()) {
    std::ofstream f(s.pipeline_out, std::ios::binary);
    for (const auto* set : {&raw_texts, &others})
      for (const auto& t : *set) f << classify_text(rules, &m, clean_text(t)).dump() << "\n";
    if (!f) die("cannot write " + s.pipeline_out);
  }
}

void run_banking77(const settings& s) {
  std::printf("banking77 (train.csv, stratified hold-out %.0f %%, seed 7)\n", 100 * s.val_share);
  auto d = load(s.datasets + "/intent/banking77/train.csv", {"category"}, s.max_rows);
  auto [tr, va] = split(d.rows, s.val_share, 7);
  json out{{"dataset", "banking77"}, {"val_n", va.size()}};
  auto m = train(s, tr, out);
  auto f = evaluate(m, va, false);
  print_figures("validation (top label)", f);
  out["val"] = to_json(f);
  speed(s, m, va, out);
  pipeline(s, m, va, out);
  std::printf("%s\n", out.dump().c_str());
}

void run_clinc150(const settings& s) {
  std::printf("clinc150 (train.json -> val.json, oos threshold picked on half of val, measured on the other half)\n");
  auto tr = load(s.datasets + "/intent/clinc150/train.json", {"label"}, s.max_rows);
  auto va = load(s.datasets + "/intent/clinc150/val.json", {"label"}, s.max_rows);
  json out{{"dataset", "clinc150"}, {"val_n", va.rows.size()}};
  auto m = train(s, tr.rows, out);
  auto [half_b, half_a] = split(va.rows, 0.5, 11);
  auto rc = m.calibrate_reject(half_a);
  auto fb = evaluate(m, half_b, true);
  std::printf("  threshold %.2f picked on val half A (n %zu: in-scope %.4f, oos recall %.4f)\n", rc.threshold,
              half_a.size(), rc.in_scope_accuracy, rc.oos_recall);
  std::printf("  val half B (n %zu): in-scope accuracy %.4f, oos recall %.4f, accuracy %.4f, macro F1 %.4f\n", fb.n,
              fb.in_scope, fb.oos_recall, fb.accuracy, fb.macro_f1);
  out["half_threshold"] = rc.threshold;
  out["half_b"] = {{"n", fb.n}, {"in_scope_accuracy", fb.in_scope}, {"oos_recall", fb.oos_recall}, {"accuracy", fb.accuracy}};
  auto rc_all = m.calibrate_reject(va.rows);
  auto fa = evaluate(m, va.rows, true);
  std::printf("  threshold %.2f picked on all of val: in-scope accuracy %.4f, oos recall %.4f, accuracy %.4f "
              "(tuned on the data it is measured on)\n",
              rc_all.threshold, fa.in_scope, fa.oos_recall, fa.accuracy);
  out["val_threshold"] = rc_all.threshold;
  out["val"] = {{"in_scope_accuracy", fa.in_scope}, {"oos_recall", fa.oos_recall}, {"accuracy", fa.accuracy},
                {"macro_f1", fa.macro_f1}};
  auto closed = evaluate(m, va.rows, false);
  std::printf("  closed-set top-label accuracy on val %.4f\n", closed.accuracy);
  out["val_top_label_accuracy"] = closed.accuracy;
  std::printf("%s\n", out.dump().c_str());
}

void run_shopping(const settings& s) {
  std::printf("online_shopping_10_cats (cat column, stratified 80/20, seed 5; test fixture: evaluation only)\n");
  auto d = load(s.datasets + "/category_zh/online_shopping_10_cats.csv", {"cat"}, s.max_rows);
  auto [tr, te] = split(d.rows, 0.2, 5);
  json out{{"dataset", "online_shopping_10_cats"}, {"test_n", te.size()}};
  auto m = train(s, tr, out);
  auto f = evaluate(m, te, false);
  print_figures("test (top label)", f);
  out["test"] = to_json(f);
  std::printf("%s\n", out.dump().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--datasets") s.datasets = next();
    else if (a == "--only") s.only.insert(next());
    else if (a == "--max-rows") s.max_rows = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--val-share") s.val_share = std::atof(next().c_str());
    else if (a == "--threads") s.threads = std::atoi(next().c_str());
    else if (a == "--members") s.members = next();
    else if (a == "--speed-seconds") s.speed_seconds = std::atof(next().c_str());
    else if (a == "--no-quantize") s.quantize = false;
    else if (a == "--no-linear") s.linear = false;
    else if (a == "--retrain") s.retrain = true;
    else if (a == "--linear-epochs") s.linear_epochs = std::atoi(next().c_str());
    else if (a == "--linear-lr") s.linear_lr = std::atof(next().c_str());
    else if (a == "--linear-lambda") s.linear_lambda = std::atof(next().c_str());
    else if (a == "--linear-average") s.linear_average = true;
    else if (a == "--linear-minn") s.linear_minn = std::atoi(next().c_str());
    else if (a == "--linear-maxn") s.linear_maxn = std::atoi(next().c_str());
    else if (a == "--linear-bytes") s.linear_bytes = std::atol(next().c_str());
    else if (a == "--max-model-bytes") s.max_model_bytes = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--quant-rows") s.quant_rows = std::atoi(next().c_str());
    else if (a == "--sentiment-model") s.sentiment_model = next();
    else if (a == "--urgency-model") s.urgency_model = next();
    else if (a == "--pipeline-out") s.pipeline_out = next();
    else if (a == "--other-texts") s.other_texts = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--help" || a == "-h") {
      std::printf("usage: closeloop_bench_eval_category [--datasets DIR] [--only banking77|clinc150|shopping]... "
                  "[--max-rows N] [--val-share F] [--threads N] [--members SPEC] [--speed-seconds S] [--no-quantize] "
                  "[--no-linear] [--retrain] [--linear-epochs N] [--linear-lr F] [--linear-lambda F] [--linear-average] [--linear-minn N] [--linear-maxn N] [--linear-bytes N] "
                  "[--max-model-bytes N] [--quant-rows N] [--sentiment-model F] [--urgency-model F] [--pipeline-out F] "
                  "[--other-texts N]\n");
      return 0;
    } else die("unknown argument " + a);
  }
  auto want = [&](const char* n) { return s.only.empty() || s.only.count(n) > 0; };
  if (want("banking77")) run_banking77(s);
  if (want("clinc150")) run_clinc150(s);
  if (want("shopping")) run_shopping(s);
  return 0;
}
