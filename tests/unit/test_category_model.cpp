// The fastText category model on a small synthetic set: normalisation, train -> predict, bands,
// reject threshold, activation gate, save/load round trip, bad input.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>

#include "closeloop/category_model.hpp"
#include "model_test_support.hpp"

using namespace closeloop;

namespace {

// Three clearly separable categories, en + zh, with some variation.
std::vector<labelled_text> synthetic(unsigned seed, int per_label) {
  const model_test::word_lists words = {
      {"billing", {"invoice", "refund", "charged", "payment", "bill", "发票", "退款"}},
      {"login", {"password", "login", "account", "locked", "sign", "密码", "登录"}},
      {"shipping", {"delivery", "parcel", "shipped", "tracking", "courier", "快递", "物流"}},
  };
  return model_test::generated(words, per_label, seed,
                               {"please", "help", "my", "the", "i", "need", "today", "is", "not"});
}

// quantisation (k-means) is exercised once, in the round-trip test
category_train_options small_options() { return model_test::small_options(); }

}  // namespace

TEST_CASE("category: normalisation lower-cases, splits punctuation and CJK characters", "[unit][classify]") {
  CHECK(normalize_for_category("My CARD hasn't arrived, why?") == "my card hasn't arrived why ?");
  CHECK(normalize_for_category("退款没到账") == "退 款 没 到 账");
  CHECK(normalize_for_category("ＡＢＣ１２３！") == "abc123 !");
  CHECK(normalize_for_category("\xEF\xBB\xBF  \t\n") == "");
  CHECK(normalize_for_category("Ünïcode ÉTÉ") == "ünïcode été");
  CHECK(normalize_for_category("bad \xFF byte") == "bad byte");
}

TEST_CASE("category: trains, predicts, calibrates bands and survives a save/load round trip", "[unit][classify]") {
  auto train = synthetic(1, 60);
  auto opt = small_options();
  opt.quantize = true;
  std::size_t progress_calls = 0;
  opt.progress = [&](std::string_view, std::size_t, std::size_t) { ++progress_calls; };
  auto m = category_model::train(train, opt);
  REQUIRE(m);
  CHECK(progress_calls > 0);
  CHECK(m->labels() == std::vector<std::string>{"billing", "login", "shipping"});
  CHECK(m->members() == opt.members.size());
  CHECK(m->has_linear());
  CHECK(m->reject_label() == "other");
  CHECK(m->serialized_bytes() <= 2 * 1024 * 1024);

  auto test = synthetic(2, 20);
  std::size_t right = 0;
  for (const auto& t : test) right += m->predict(t.text).top_label == t.label ? 1 : 0;
  CHECK(static_cast<double>(right) / static_cast<double>(test.size()) > 0.9);

  const auto& th = m->thresholds();
  CHECK(th.high >= th.medium);
  CHECK(th.medium >= th.reject);
  const auto& g = m->gate();
  CHECK(g.n > 0);
  CHECK(g.active == (g.high_share >= 0.30 && g.medium_or_better >= 0.60));

  auto p = m->predict("refund for my invoice please");
  CHECK(p.top_label == "billing");
  CHECK(p.probability > 0.5);
  auto probs = m->probabilities("refund for my invoice please");
  REQUIRE(probs.size() == 3);
  CHECK(probs[0] == Approx(p.probability));

  const auto path = std::filesystem::temp_directory_path() / "closeloop-unit-category.model";
  REQUIRE(m->save(path.string()));
  auto back = category_model::load(path.string());
  REQUIRE(back);
  std::filesystem::remove(path);
  CHECK(back->labels() == m->labels());
  CHECK(back->thresholds().high == th.high);
  CHECK(back->gate().active == g.active);
  auto q = back->predict("refund for my invoice please");
  CHECK(q.top_label == p.top_label);
  CHECK(q.probability == Approx(p.probability));
}

TEST_CASE("category: bands and the reject label follow the thresholds", "[unit][classify]") {
  auto m = category_model::train(synthetic(3, 40), small_options());
  REQUIRE(m);
  m->set_thresholds({1.01, 1.01, 0.0});  // nothing is sure enough
  auto low = m->predict("password locked");
  CHECK(low.band == confidence_band::low);
  CHECK(low.label == low.top_label);
  m->set_thresholds({0.0, 0.0, 0.0});
  CHECK(m->predict("password locked").band == confidence_band::high);
  m->set_thresholds({1.01, 1.01, 1.01});  // everything below the reject threshold
  auto rej = m->predict("password locked");
  CHECK(rej.label == "other");
  CHECK(rej.needs_review);
  CHECK(rej.top_label == "login");
  // Empty and punctuation-only text: no answer, needs review, no crash.
  auto e = m->predict("");
  CHECK(e.label == "other");
  CHECK(e.needs_review);
  CHECK(m->predict("?!...").needs_review);
}

TEST_CASE("category: the reject threshold is picked on data with the oos label", "[unit][classify]") {
  auto train = synthetic(4, 40);
  for (int i = 0; i < 40; ++i) train.push_back({"weather tomorrow sunny rain " + std::to_string(i % 5), "oos"});
  auto m = category_model::train(train, small_options());
  REQUIRE(m);
  CHECK(m->reject_label() == "oos");
  auto cal = synthetic(5, 10);
  for (int i = 0; i < 10; ++i) cal.push_back({"what is the weather like", "oos"});
  auto rc = m->calibrate_reject(cal);
  CHECK(rc.n_oos == 10);
  CHECK(rc.n_in_scope == 30);
  CHECK(rc.in_scope_accuracy >= 0.9);
  CHECK(rc.oos_recall >= 0.6);
  CHECK(m->thresholds().reject == rc.threshold);
}

TEST_CASE("category: bad input is answered in bounded time", "[unit][classify]") {
  auto m = category_model::train(synthetic(6, 30), small_options());
  REQUIRE(m);
  const auto t0 = std::chrono::steady_clock::now();
  std::string big(1 << 20, 'x');
  std::string words;
  while (words.size() < (1 << 20)) words += "refund invoice ";
  std::string emoji;
  for (int i = 0; i < 100000; ++i) emoji += "\xF0\x9F\x98\xA1";
  std::string garbage;
  for (int i = 0; i < 100000; ++i) garbage += static_cast<char>(0x80 + (i * 7) % 128);
  for (const auto* t : {&big, &words, &emoji, &garbage}) {
    auto p = m->predict(*t);
    CHECK(p.probability >= 0.0);
    CHECK(p.probability <= 1.0001);
  }
  CHECK(m->predict(words).top_label == "billing");
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
}

TEST_CASE("category: training and loading reject what they cannot use", "[unit][classify]") {
  CHECK_FALSE(category_model::train({{"a", "x"}, {"b", "x"}}, small_options()));  // one label
  CHECK_FALSE(category_model::train({}, small_options()));
  CHECK_FALSE(category_model::load_from_memory("not a model"));
  CHECK_FALSE(category_model::load("/nonexistent/closeloop.model"));
  auto m = category_model::train(synthetic(7, 20), small_options());
  REQUIRE(m);
  std::string bytes = m->serialize();
  bytes[bytes.size() / 2] ^= 0x55;  // a flipped byte inside a member is caught by its checksum
  auto broken = category_model::load_from_memory(bytes);
  REQUIRE_FALSE(broken);
  CHECK_THAT(broken.err().message, Catch::Contains("checksum"));
  CHECK_FALSE(category_model::load_from_memory(m->serialize().substr(0, 200)));
}

TEST_CASE("category: the fast prediction path gives the same bits as fastText's own predict", "[unit][classify]") {
  // 23 labels: the SIMD loops run over full blocks and a tail (16 + 7 linear, 20 + 3 fastText).
  model_test::word_lists words;
  const std::vector<std::string> stems = {"card", "refund", "login", "parcel", "fee", "cash", "pin", "limit",
                                          "rate", "topup", "atm", "visa", "phone", "id", "lost", "fraud",
                                          "bank", "loan", "退款", "密码", "快递", "余额", "转账"};
  for (std::size_t i = 0; i < stems.size(); ++i)
    words.push_back({"label" + std::to_string(i),
                     {stems[i], stems[i] + "s", stems[i] + "ed", stems[(i + 1) % stems.size()] + "ing"}});
  const auto train = model_test::generated(words, 12, 5, {"please", "help", "my", "the", "i", "need", "not"});
  std::vector<std::string> texts = {"refund for my card please", "密码 登录 不了", "unseenword anotherone zzz",
                                    "Ünïcode ÉTÉ 退款没到账 😀😀", "?!", "", std::string(100000, 'x'),
                                    "the the the the", "card card parcel login fee cash"};
  for (std::size_t i = 0; i < train.size(); i += 7) texts.push_back(train[i].text);
  auto same_bits = [&](const category_model& m) {
    CHECK(m.fast_path_members() == m.members());
    for (const auto& t : texts) {
      const auto a = m.probabilities(t), b = m.probabilities_reference(t);
      REQUIRE(a.size() == b.size());
      INFO(t.substr(0, 60));
      CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
      // predict() finds the top without every label's exact value: the same top, the same bits.
      const auto top = static_cast<std::size_t>(std::max_element(b.begin(), b.end()) - b.begin());
      const auto p = m.predict(t);
      if (b[top] > 0.0f) {
        CHECK(p.top_label == m.labels()[top]);
        CHECK(p.probability == static_cast<double>(b[top]));
      } else {
        CHECK(p.needs_review);
      }
    }
  };
  auto opt = small_options();
  SECTION("plain fastText member + linear") {
    auto m = category_model::train(train, opt);
    REQUIRE(m);
    REQUIRE(m->labels().size() == 23);
    same_bits(*m);
  }
  SECTION("quantised and pruned fastText member, also after a save/load round trip") {
    opt.quantize = true;
    opt.max_quantized_rows = 400;  // fewer than the rows (words + 2000 buckets): the dictionary is pruned
    auto m = category_model::train(train, opt);
    INFO((m ? std::string() : m.err().message));
    REQUIRE(m);
    same_bits(*m);
    auto back = category_model::load_from_memory(m->serialize());
    REQUIRE(back);
    same_bits(*back);
  }
  SECTION("two fastText members, no linear model") {
    opt.members.push_back(opt.members.front());
    opt.members.back().seed = 2;
    opt.members.back().word_ngrams = 1;
    opt.linear = false;
    auto m = category_model::train(train, opt);
    REQUIRE(m);
    same_bits(*m);
  }
}
