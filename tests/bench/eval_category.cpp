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
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "closeloop/category_model.hpp"
#include "closeloop/classifier.hpp"
#include "closeloop/classify_text.hpp"
#include "closeloop/dataset.hpp"
#include "closeloop/hashed_linear.hpp"
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
  std::vector<std::string> study;  // banking77: other model families measured instead (study::run)
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

// ---------------------------------------------------------------------------------------------
// --study NAME (banking77 only): other model families measured next to the shipped hashed linear
// model, to see whether they make different mistakes (issue 4). Nothing here is shipped. Each
// candidate is trained on the bench's training part with the shipped protocol: on an inner
// stratified 15 % hold-out of it (seed 77) the linear model's temperature and the candidate's
// (lowest log-loss) and the mixing weight (best accuracy, then log-loss; grid 0.05) are picked,
// then both are trained on the whole training part and measured on the validation texts, alone
// and mixed with that weight.
//   svm       one-vs-rest squared-hinge linear SVM (dual coordinate descent, C = 1, bias feature)
//   knn       cosine k-nearest neighbours (k = 10), votes weighted by similarity
//   centroid  cosine to each class's mean vector (class prototypes)
//   mlp       one hidden layer of 128 ReLU units, softmax, SGD (20 epochs, lr 0.2)
//   softmax   multinomial logistic SGD as the shipped model trains it, float and unpruned, on the
//             study's features; softmax+trigrams / +skip (word pairs one word apart) / +pairs (all
//             unordered word pairs of the text) / +dropout (features dropped with p 0.1 per step)
// All use the shipped model's features (hashed_features: words, word bigrams, char 2-5-grams) as
// log(1 + count) * idf, L2-normalised, over the features seen in training.
namespace study {

using sparse = std::vector<std::pair<std::uint32_t, float>>;  // (feature id, value)
using scores_t = std::vector<std::vector<float>>;

struct options {
  bool trigrams = false, skip = false, pairs = false;
  double dropout = 0;
};

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

std::uint64_t word_hash(std::string_view w) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : w) h = (h ^ c) * 1099511628211ULL;
  return mix(h);
}

// The shipped features plus the optional word-combination features (own hash salts).
sparse raw_features(const std::string& text, const options& o) {
  sparse f = hashed_features(text, hashed_linear_settings{});
  if (!o.trigrams && !o.skip && !o.pairs) return f;
  std::vector<std::uint64_t> u;
  for (std::size_t p = 0; p < text.size();) {
    std::size_t e = text.find(' ', p);
    if (e == std::string::npos) e = text.size();
    if (e > p) u.push_back(word_hash(std::string_view(text).substr(p, e - p)));
    p = e + 1;
  }
  std::map<std::uint32_t, float> extra;
  for (std::size_t i = 0; i < u.size(); ++i) {
    if (o.trigrams && i + 2 < u.size())
      extra[static_cast<std::uint32_t>(mix(u[i] * 3 + u[i + 1] * 5 + u[i + 2] * 7 + 11))] += 1;
    if (o.skip && i + 2 < u.size()) extra[static_cast<std::uint32_t>(mix(u[i] * 31 + u[i + 2] * 7 + 12))] += 1;
    if (o.pairs)
      for (std::size_t j = i + 1; j < u.size(); ++j)
        extra[static_cast<std::uint32_t>(mix(std::min(u[i], u[j]) * 41 + std::max(u[i], u[j]) * 3 + 13))] += 1;
  }
  for (const auto& [k, c] : extra) f.emplace_back(k, c);
  return f;
}

struct featurizer {
  options o;
  std::unordered_map<std::uint32_t, std::uint32_t> index;
  std::vector<float> idf;
  float default_idf = 1;
  void fit(const std::vector<std::string>& texts) {
    std::vector<std::uint32_t> df;
    for (const auto& t : texts)
      for (const auto& [k, c] : raw_features(t, o)) {
        auto [it, fresh] = index.emplace(k, static_cast<std::uint32_t>(df.size()));
        if (fresh) df.push_back(0);
        df[it->second]++;
      }
    const double n = static_cast<double>(texts.size());
    idf.resize(df.size());
    for (std::size_t i = 0; i < df.size(); ++i) idf[i] = static_cast<float>(std::log((n + 1) / (df[i] + 1.0)) + 1.0);
    default_idf = static_cast<float>(std::log((n + 1) / 2.0) + 1.0);
  }
  sparse vec(const std::string& t) const {
    sparse out;
    double norm = 0;
    for (const auto& [k, c] : raw_features(t, o)) {
      auto it = index.find(k);
      const float v = std::log1p(c) * (it == index.end() ? default_idf : idf[it->second]);
      norm += static_cast<double>(v) * v;
      if (it != index.end()) out.emplace_back(it->second, v);
    }
    const float inv = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0f;
    for (auto& [k, v] : out) v *= inv;
    return out;
  }
};

void softmax(std::vector<float>& v, float t) {
  const float mx = *std::max_element(v.begin(), v.end());
  float sum = 0;
  for (auto& x : v) sum += (x = std::exp((x - mx) / t));
  for (auto& x : v) x /= sum;
}

// out[k] = b[k] + sum over x of v * W[f * K + k]
std::vector<float> dense_scores(const sparse& x, const std::vector<float>& W, const std::vector<float>& b) {
  const std::size_t K = b.size();
  std::vector<float> s(b);
  for (const auto& [f, v] : x)
    for (std::size_t k = 0; k < K; ++k) s[k] += v * W[f * K + k];
  return s;
}

// One-vs-rest squared hinge, dual coordinate descent (Hsieh et al., ICML 2008), bias feature 1.
scores_t svm(const std::vector<sparse>& X, const std::vector<int>& y, const std::vector<sparse>& V, std::size_t F,
             std::size_t K) {
  const double C = 1.0, D = 1.0 / (2 * C);
  std::vector<float> W(F * K), b(K);
  std::vector<double> w(F), alpha(X.size());
  std::vector<std::size_t> order(X.size());
  std::mt19937 rng(1);
  for (std::size_t c = 0; c < K; ++c) {
    std::fill(w.begin(), w.end(), 0.0);
    std::fill(alpha.begin(), alpha.end(), 0.0);
    double wb = 0;
    std::iota(order.begin(), order.end(), 0);
    for (int pass = 0; pass < 30; ++pass) {
      std::shuffle(order.begin(), order.end(), rng);
      double max_pg = 0;
      for (auto i : order) {
        const double yi = y[i] == static_cast<int>(c) ? 1.0 : -1.0;
        double wx = wb, q = 1 + D;
        for (const auto& [f, v] : X[i]) {
          wx += w[f] * v;
          q += static_cast<double>(v) * v;
        }
        const double g = yi * wx - 1 + D * alpha[i];
        const double pg = alpha[i] == 0 ? std::min(g, 0.0) : g;
        max_pg = std::max(max_pg, std::fabs(pg));
        if (pg == 0) continue;
        const double a = std::max(alpha[i] - g / q, 0.0);
        const double d = (a - alpha[i]) * yi;
        alpha[i] = a;
        for (const auto& [f, v] : X[i]) w[f] += d * v;
        wb += d;
      }
      if (max_pg < 1e-3) break;
    }
    for (std::size_t f = 0; f < F; ++f) W[f * K + c] = static_cast<float>(w[f]);
    b[c] = static_cast<float>(wb);
  }
  scores_t out;
  for (const auto& v : V) out.push_back(dense_scores(v, W, b));
  return out;
}

// Multinomial logistic SGD as hashed_linear trains it (lr 4 decaying linearly, L2 1e-5, 10 epochs).
scores_t softmax_sgd(const std::vector<sparse>& X, const std::vector<int>& y, const std::vector<sparse>& V,
                     std::size_t F, std::size_t K, double dropout) {
  std::vector<float> W(F * K), b(K), p(K);
  const int epochs = 10;
  const double lr0 = 4, lambda = 1e-5, T = static_cast<double>(epochs) * static_cast<double>(X.size());
  double wscale = 1, t = 0;
  std::vector<std::size_t> order(X.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 rng(1);
  std::bernoulli_distribution keep(1 - dropout);
  sparse xi;
  for (int ep = 0; ep < epochs; ++ep) {
    std::shuffle(order.begin(), order.end(), rng);
    for (auto i : order) {
      const double lr = lr0 * std::max(0.02, 1 - t / T);
      t += 1;
      xi.clear();
      for (const auto& [f, x] : X[i])
        if (dropout == 0 || keep(rng)) xi.emplace_back(f, static_cast<float>(x / (1 - dropout)));
      for (std::size_t k = 0; k < K; ++k) p[k] = b[k];
      for (const auto& [f, x] : xi)
        for (std::size_t k = 0; k < K; ++k) p[k] += x * static_cast<float>(wscale) * W[f * K + k];
      softmax(p, 1);
      p[static_cast<std::size_t>(y[i])] -= 1;
      wscale *= 1 - lr * lambda;
      const auto step = static_cast<float>(lr / wscale);
      for (const auto& [f, x] : xi)
        for (std::size_t k = 0; k < K; ++k) W[f * K + k] -= step * x * p[k];
      for (std::size_t k = 0; k < K; ++k) b[k] -= static_cast<float>(lr * 0.1) * p[k];
    }
  }
  for (auto& w : W) w *= static_cast<float>(wscale);
  scores_t out;
  for (const auto& v : V) out.push_back(dense_scores(v, W, b));
  return out;
}

scores_t mlp(const std::vector<sparse>& X, const std::vector<int>& y, const std::vector<sparse>& V, std::size_t F,
             std::size_t K) {
  const std::size_t H = 128;
  const int epochs = 20;
  const double lr0 = 0.2, T = static_cast<double>(epochs) * static_cast<double>(X.size());
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0, 1);
  std::vector<float> W1(F * H), b1(H), W2(H * K), b2(K), h(H), gh(H), p(K);
  for (auto& w : W1) w = 0.1f * nd(rng);
  for (auto& w : W2) w = std::sqrt(2.0f / H) * nd(rng);
  auto forward = [&](const sparse& x) {
    h = b1;
    for (const auto& [f, v] : x)
      for (std::size_t j = 0; j < H; ++j) h[j] += v * W1[f * H + j];
    p = b2;
    for (std::size_t j = 0; j < H; ++j) {
      h[j] = std::max(0.0f, h[j]);
      if (h[j] > 0)
        for (std::size_t k = 0; k < K; ++k) p[k] += h[j] * W2[j * K + k];
    }
  };
  std::vector<std::size_t> order(X.size());
  std::iota(order.begin(), order.end(), 0);
  double t = 0;
  for (int ep = 0; ep < epochs; ++ep) {
    std::shuffle(order.begin(), order.end(), rng);
    for (auto i : order) {
      const auto lr = static_cast<float>(lr0 * std::max(0.02, 1 - t / T));
      t += 1;
      forward(X[i]);
      softmax(p, 1);
      p[static_cast<std::size_t>(y[i])] -= 1;
      for (std::size_t j = 0; j < H; ++j) {
        float g = 0;
        if (h[j] > 0)
          for (std::size_t k = 0; k < K; ++k) {
            g += W2[j * K + k] * p[k];
            W2[j * K + k] -= lr * h[j] * p[k];
          }
        gh[j] = g;
      }
      for (std::size_t k = 0; k < K; ++k) b2[k] -= lr * p[k];
      for (const auto& [f, v] : X[i])
        for (std::size_t j = 0; j < H; ++j) W1[f * H + j] -= lr * v * gh[j];
      for (std::size_t j = 0; j < H; ++j) b1[j] -= lr * gh[j];
    }
  }
  scores_t out;
  for (const auto& v : V) {
    forward(v);
    out.push_back(p);
  }
  return out;
}

// knn: log of the normalised similarity-weighted votes of the 10 nearest training texts;
// centroid: cosine to each class's normalised mean vector.
scores_t neighbours(const std::vector<sparse>& X, const std::vector<int>& y, const std::vector<sparse>& V,
                    std::size_t F, std::size_t K, bool centroid) {
  scores_t out;
  if (centroid) {
    std::vector<float> C(F * K);
    for (std::size_t i = 0; i < X.size(); ++i)
      for (const auto& [f, v] : X[i]) C[f * K + static_cast<std::size_t>(y[i])] += v;
    std::vector<double> norm(K);
    for (std::size_t j = 0; j < C.size(); ++j) norm[j % K] += static_cast<double>(C[j]) * C[j];
    for (std::size_t j = 0; j < C.size(); ++j) C[j] /= static_cast<float>(std::sqrt(norm[j % K]));
    for (const auto& v : V) out.push_back(dense_scores(v, C, std::vector<float>(K, 0.0f)));
    return out;
  }
  std::vector<std::vector<std::pair<std::uint32_t, float>>> postings(F);
  for (std::size_t i = 0; i < X.size(); ++i)
    for (const auto& [f, v] : X[i]) postings[f].emplace_back(static_cast<std::uint32_t>(i), v);
  std::vector<float> sim(X.size());
  std::vector<std::size_t> idx(X.size());
  const std::size_t k_nn = std::min<std::size_t>(10, X.size());
  for (const auto& v : V) {
    std::fill(sim.begin(), sim.end(), 0.0f);
    for (const auto& [f, x] : v)
      for (const auto& [i, u] : postings[f]) sim[i] += x * u;
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k_nn), idx.end(),
                      [&](std::size_t a, std::size_t b) { return sim[a] > sim[b] || (sim[a] == sim[b] && a < b); });
    std::vector<float> votes(K, 0.0f);
    for (std::size_t q = 0; q < k_nn; ++q) votes[static_cast<std::size_t>(y[idx[q]])] += sim[idx[q]];
    float sum = 0;
    for (auto x : votes) sum += x;
    for (auto& x : votes) x = std::log(std::max(1e-6f, sum > 0 ? x / sum : 1.0f / static_cast<float>(K)));
    out.push_back(std::move(votes));
  }
  return out;
}

// Candidate `name`'s scores (softmax(scores / T) are its probabilities) for `eval`, trained on `train`.
scores_t candidate(const std::string& name, const std::vector<std::string>& train, const std::vector<int>& y,
                   const std::vector<std::string>& eval, std::size_t K) {
  featurizer fz;
  fz.o.trigrams = name == "softmax+trigrams";
  fz.o.skip = name == "softmax+skip";
  fz.o.pairs = name == "softmax+pairs";
  fz.fit(train);
  std::vector<sparse> X, V;
  for (const auto& t : train) X.push_back(fz.vec(t));
  for (const auto& t : eval) V.push_back(fz.vec(t));
  const std::size_t F = fz.idf.size();
  if (name == "svm") return svm(X, y, V, F, K);
  if (name == "knn" || name == "centroid") return neighbours(X, y, V, F, K, name == "centroid");
  if (name == "mlp") return mlp(X, y, V, F, K);
  return softmax_sgd(X, y, V, F, K, name == "softmax+dropout" ? 0.1 : 0.0);
}

bool known(const std::string& name) {
  for (const char* n : {"svm", "knn", "centroid", "mlp", "softmax", "softmax+trigrams", "softmax+skip", "softmax+pairs",
                        "softmax+dropout"})
    if (name == n) return true;
  return false;
}

// The shipped hashed linear model's scores for `eval`, trained on `train`.
scores_t linear(const std::vector<std::string>& train, const std::vector<int>& y, const std::vector<std::string>& eval,
                std::size_t K) {
  std::vector<std::pair<std::string_view, int>> rows;
  for (std::size_t i = 0; i < train.size(); ++i) rows.emplace_back(train[i], y[i]);
  auto m = hashed_linear::train(rows, static_cast<int>(K), hashed_linear_settings{});
  if (!m) die(m.err().message);
  scores_t out(eval.size());
  for (std::size_t j = 0; j < eval.size(); ++j) m->scores(eval[j], out[j]);
  return out;
}

// The temperature with the lowest log-loss; the scores become those probabilities.
float calibrate(scores_t& s, const std::vector<int>& y) {
  float best_t = 1;
  double best = 1e300;
  for (float t : {0.02f, 0.05f, 0.1f, 0.2f, 0.35f, 0.5f, 0.7f, 1.0f, 1.4f, 2.0f}) {
    double nll = 0;
    for (std::size_t j = 0; j < s.size(); ++j) {
      auto p = s[j];
      softmax(p, t);
      nll -= std::log(std::max(1e-9f, p[static_cast<std::size_t>(y[j])]));
    }
    if (nll < best) best = nll, best_t = t;
  }
  for (auto& v : s) softmax(v, best_t);
  return best_t;
}

void apply(scores_t& s, float t) {
  for (auto& v : s) softmax(v, t);
}

// Accuracy of (1 - w) * a + w * b and its log-loss.
std::pair<double, double> mixed(const scores_t& a, const scores_t& b, const std::vector<int>& y, float w) {
  std::size_t right = 0;
  double nll = 0;
  for (std::size_t j = 0; j < a.size(); ++j) {
    std::size_t best = 0;
    float bp = -1;
    for (std::size_t c = 0; c < a[j].size(); ++c) {
      const float v = (1 - w) * a[j][c] + w * b[j][c];
      if (v > bp) bp = v, best = c;
    }
    right += best == static_cast<std::size_t>(y[j]) ? 1 : 0;
    const auto g = static_cast<std::size_t>(y[j]);
    nll -= std::log(std::max(1e-9f, (1 - w) * a[j][g] + w * b[j][g]));
  }
  return {static_cast<double>(right) / static_cast<double>(a.size()), nll};
}

void run(const std::string& name, const std::vector<labelled_text>& tr, const std::vector<labelled_text>& va,
         json& out) {
  std::map<std::string, int> label_index;
  for (const auto& r : tr) label_index.emplace(r.label, 0);
  int next = 0;
  for (auto& [l, i] : label_index) i = next++;
  const auto K = static_cast<std::size_t>(next);
  std::vector<std::string> train, val, inner, held;
  std::vector<int> ty, vy, iy, hy;
  for (const auto& r : tr) {
    auto n = normalize_for_category(r.text);
    if (n.empty()) continue;
    train.push_back(std::move(n));
    ty.push_back(label_index[r.label]);
  }
  for (const auto& r : va) {
    auto it = label_index.find(r.label);
    if (it == label_index.end()) continue;
    val.push_back(normalize_for_category(r.text));
    vy.push_back(it->second);
  }
  std::map<int, std::vector<std::size_t>> by;
  for (std::size_t i = 0; i < ty.size(); ++i) by[ty[i]].push_back(i);
  std::mt19937 rng(77);
  for (auto& [l, idx] : by) {
    std::shuffle(idx.begin(), idx.end(), rng);
    const auto k = static_cast<std::size_t>(0.15 * static_cast<double>(idx.size()) + 0.5);
    for (std::size_t j = 0; j < idx.size(); ++j) {
      (j < k ? held : inner).push_back(train[idx[j]]);
      (j < k ? hy : iy).push_back(ty[idx[j]]);
    }
  }
  auto hl = linear(inner, iy, held, K);
  auto hc = candidate(name, inner, iy, held, K);
  const float tl = calibrate(hl, hy), tc = calibrate(hc, hy);
  float w = 0;
  std::pair<double, double> best{-1, 0};
  for (int k = 0; k <= 20; ++k) {
    auto r = mixed(hl, hc, hy, static_cast<float>(k) / 20.0f);
    if (r.first > best.first || (r.first == best.first && r.second < best.second)) best = r, w = k / 20.0f;
  }
  auto vl = linear(train, ty, val, K);
  auto t0 = clock_type::now();
  auto vc = candidate(name, train, ty, val, K);
  const double secs = since(t0);
  apply(vl, tl);
  apply(vc, tc);
  const double base = mixed(vl, vc, vy, 0).first, alone = mixed(vl, vc, vy, 1).first, mix = mixed(vl, vc, vy, w).first;
  std::printf(
      "  study %-16s inner hold-out (%zu): linear %.4f, mixed %.4f (candidate T %.2f, weight %.2f); "
      "validation (%zu): linear %.4f, candidate alone %.4f, mixed %.4f (%+.1f points); candidate trained and "
      "scored in %.1f s\n",
      name.c_str(), held.size(), mixed(hl, hc, hy, 0).first, best.first, tc, w, val.size(), base, alone, mix,
      100 * (mix - base), secs);
  out["study"][name] = {{"linear", base}, {"alone", alone},    {"mixed", mix},
                        {"weight", w},    {"temperature", tc}, {"seconds", secs}};
}

}  // namespace study

void run_banking77(const settings& s) {
  std::printf("banking77 (train.csv, stratified hold-out %.0f %%, seed 7)\n", 100 * s.val_share);
  auto d = load(s.datasets + "/intent/banking77/train.csv", {"category"}, s.max_rows);
  auto [tr, va] = split(d.rows, s.val_share, 7);
  json out{{"dataset", "banking77"}, {"val_n", va.size()}};
  if (!s.study.empty()) {
    for (const auto& name : s.study) study::run(name, tr, va, out);
    std::printf("%s\n", out.dump().c_str());
    return;
  }
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
    else if (a == "--study") {
      s.study.push_back(next());
      if (!study::known(s.study.back())) die("unknown study " + s.study.back());
    }
    else if (a == "--help" || a == "-h") {
      std::printf("usage: closeloop_bench_eval_category [--datasets DIR] [--only banking77|clinc150|shopping]... "
                  "[--max-rows N] [--val-share F] [--threads N] [--members SPEC] [--speed-seconds S] [--no-quantize] "
                  "[--no-linear] [--retrain] [--linear-epochs N] [--linear-lr F] [--linear-lambda F] [--linear-average] [--linear-minn N] [--linear-maxn N] [--linear-bytes N] "
                  "[--max-model-bytes N] [--quant-rows N] [--sentiment-model F] [--urgency-model F] [--pipeline-out F] "
                  "[--other-texts N] [--study svm|knn|centroid|mlp|softmax|softmax+trigrams|softmax+skip|softmax+pairs|"
                  "softmax+dropout]... (banking77 only; see study::run)\n");
      return 0;
    } else die("unknown argument " + a);
  }
  auto want = [&](const char* n) { return s.only.empty() || s.only.count(n) > 0; };
  if (want("banking77")) run_banking77(s);
  if (want("clinc150")) run_clinc150(s);
  if (want("shopping")) run_shopping(s);
  return 0;
}
