// `closeloop train`, `closeloop eval --json`, `closeloop classify` on small files.
#include <catch2/catch.hpp>

#include <random>
#include <sstream>

#include "harness.hpp"

using namespace closeloop::itest;

namespace {

const std::string binary = CLOSELOOP_BINARY;

std::string quote(const std::string& s) { return "'" + s + "'"; }

// A small CSV with three categories (en + zh), `n` rows per category.
std::string make_csv(unsigned seed, int n, bool with_oos = false) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cats = {
      {"billing", {"invoice", "refund", "charged twice", "payment", "退款", "发票"}},
      {"login", {"password", "cannot log in", "account locked", "two factor", "密码", "登录"}},
      {"shipping", {"delivery", "parcel", "tracking number", "courier", "快递", "物流"}},
  };
  const std::vector<std::string> filler = {"please", "help", "my", "the", "need", "urgent", "hello"};
  std::mt19937 rng(seed);
  std::ostringstream out;
  out << "text,category\n";
  for (int i = 0; i < n; ++i) {
    for (const auto& [label, ws] : cats) {
      out << '"' << filler[rng() % filler.size()] << " " << ws[rng() % ws.size()] << ", " << filler[rng() % filler.size()]
          << " " << ws[rng() % ws.size()] << "\"," << label << "\n";
    }
    if (with_oos) out << "\"what is the weather on mars " << i % 7 << "\",oos\n";
  }
  return out.str();
}

}  // namespace

TEST_CASE("closeloop train, eval --json and classify work on small files", "[integration][cli]") {
  temp_dir dir("cli-classify");
  write_text(dir / "train.csv", make_csv(1, 40, true));
  write_text(dir / "test.csv", make_csv(2, 10, true));
  fs::create_directories(dir / "models");
  const std::string model = (dir / "models" / "category.model").string();

  auto tr = run_command({binary, "train", "--task", "category", "--input", (dir / "train.csv").string(), "--out", model,
                         "--no-quantize"},
                        dir.path(), std::chrono::seconds(60));
  INFO(tr.all());
  REQUIRE(tr.exit_code() == 0);
  CHECK_THAT(tr.out, Catch::Contains("gate (hold-out"));
  CHECK_THAT(tr.err, Catch::Contains("closeloop: train"));  // progress on stderr
  REQUIRE(fs::exists(model));

  auto ev = run_command({binary, "eval", "--task", "category", "--model", model, "--test", (dir / "test.csv").string(),
                         "--json", "--quiet"},
                        dir.path(), std::chrono::seconds(60));
  INFO(ev.all());
  REQUIRE(ev.exit_code() == 0);
  auto j = json::parse(ev.out);
  CHECK(j["n"] == 40);
  CHECK(j["accuracy"].get<double>() > 0.8);
  CHECK(j.contains("macro_f1"));
  CHECK(j.contains("oos_recall"));
  CHECK(j.contains("in_scope_accuracy"));
  REQUIRE(j["labels"].contains("billing"));
  for (const char* k : {"precision", "recall", "f1", "support"}) CHECK(j["labels"]["billing"].contains(k));

  // eval --train trains in the same run.
  auto ev2 = run_command({binary, "eval", "--task", "category", "--train", (dir / "train.csv").string(), "--test",
                          (dir / "test.csv").string(), "--json", "--quiet", "--no-quantize", "--members", "1"},
                         dir.path(), std::chrono::seconds(60));
  INFO(ev2.all());
  REQUIRE(ev2.exit_code() == 0);
  CHECK(json::parse(ev2.out)["n"] == 40);

  write_text(dir / "in.jsonl",
             "{\"text\": \"I was charged twice, please refund the invoice\"}\n"
             "{\"text\": \"密码错误，无法登录\"}\n"
             "not json\n"
             "{\"text\": \"\"}\n"
             "{\"text\": \"bad \xff byte\"}\n"  // invalid UTF-8 inside the JSON: an error line, no crash
             "{\"text\": \"still going\"}\n");
  auto cl = run_command({"/bin/sh", "-c",
                         quote(binary) + " classify --model-dir " + quote((dir / "models").string()) + " < " +
                             quote((dir / "in.jsonl").string())},
                        dir.path(), std::chrono::seconds(30));
  INFO(cl.all());
  CHECK(cl.exit_code() == 1);  // one bad line
  std::istringstream lines(cl.out);
  std::vector<json> outs;
  for (std::string l; std::getline(lines, l);) outs.push_back(json::parse(l));
  REQUIRE(outs.size() == 6);
  for (const char* k : {"language", "sentiment", "category", "confidence", "urgency", "priority", "reasons"})
    CHECK(outs[0].contains(k));
  CHECK(outs[0]["category"] == "billing");
  CHECK(outs[0]["language"] == "en");
  CHECK(outs[1]["category"] == "login");
  CHECK(outs[1]["language"] == "zh-Hans");
  CHECK(outs[2].contains("error"));
  CHECK_THAT(outs[2]["error"].get<std::string>(), Catch::StartsWith("line 3:"));
  CHECK(outs[3]["needs_review"] == true);
  CHECK_THAT(outs[4]["error"].get<std::string>(), Catch::StartsWith("line 5: invalid JSON"));
  CHECK(outs[5]["language"] == "en");

  auto lang = run_command({"/bin/sh", "-c",
                           quote(binary) + " classify --task language < " + quote((dir / "in.jsonl").string())},
                          dir.path(), std::chrono::seconds(30));
  std::istringstream l2(lang.out);
  std::string first;
  std::getline(l2, first);
  CHECK(json::parse(first) == json{{"language", "en"}});
}

TEST_CASE("closeloop train names the file and line of bad input", "[integration][cli]") {
  temp_dir dir("cli-train-bad");
  write_text(dir / "bad.csv", "text,category\nfine,a\n\"unterminated,b\n");
  auto r = run_command({binary, "train", "--task", "category", "--input", (dir / "bad.csv").string(), "--out",
                        (dir / "m.model").string()},
                       dir.path());
  INFO(r.all());
  CHECK(r.exit_code() == 1);
  CHECK_THAT(r.err, Catch::Contains("bad.csv:3:"));
  auto u = run_command({binary, "train", "--task", "topic", "--input", (dir / "bad.csv").string(), "--out",
                        (dir / "m.model").string()},
                       dir.path());
  CHECK(u.exit_code() == 2);
  CHECK_THAT(u.err, Catch::Contains("unknown task"));
}

TEST_CASE("closeloop classify --model-dir uses the tenant's urgency model", "[integration][cli][priority]") {
  temp_dir dir("cli-urgency");
  // A generated history: payroll / bank cut-off tickets were urgent, profile settings were not,
  // mixed ones either; no urgency cue word occurs in any.
  const std::vector<std::string> urgent = {"payroll", "cutoff", "bank", "salaries", "transfer", "batch"};
  const std::vector<std::string> normal = {"avatar", "nickname", "theme", "profile", "colour", "signature"};
  const std::vector<std::string> filler = {"please", "my", "the", "we", "about", "question", "hello"};
  std::mt19937 rng(5);
  std::ostringstream csv;
  csv << "text,label\n";
  for (int i = 0; i < 80; ++i)
    for (const auto* ws : {&urgent, &normal}) {
      csv << '"';
      for (int j = 0; j < 6; ++j) csv << (j % 2 == 0 ? (*ws)[rng() % ws->size()] : filler[rng() % filler.size()]) << ' ';
      csv << "\"," << (ws == &urgent ? "urgent" : "normal") << "\n";
    }
  for (int i = 0; i < 30; ++i) {  // mixed tickets that went either way: the model is unsure of those
    csv << '"';
    for (int j = 0; j < 3; ++j) csv << urgent[rng() % urgent.size()] << ' ' << normal[rng() % normal.size()] << ' ';
    csv << "\"," << (i % 2 == 0 ? "urgent" : "normal") << "\n";
  }
  write_text(dir / "history.csv", csv.str());
  fs::create_directories(dir / "models");
  auto tr = run_command({binary, "train", "--task", "urgency", "--input", (dir / "history.csv").string(), "--out",
                         (dir / "models" / "urgency.model").string(), "--no-quantize", "--quiet"},
                        dir.path(), std::chrono::seconds(60));
  INFO(tr.all());
  REQUIRE(tr.exit_code() == 0);
  write_text(dir / "in.jsonl",
             "{\"text\": \"the payroll transfer batch missed the bank cutoff\"}\n"
             "{\"text\": \"how do I change my avatar and nickname\"}\n");
  auto cl = run_command({"/bin/sh", "-c",
                         quote(binary) + " classify --model-dir " + quote((dir / "models").string()) + " < " +
                             quote((dir / "in.jsonl").string())},
                        dir.path(), std::chrono::seconds(30));
  INFO(cl.all());
  REQUIRE(cl.exit_code() == 0);
  std::istringstream lines(cl.out);
  std::vector<json> outs;
  for (std::string l; std::getline(lines, l);) outs.push_back(json::parse(l));
  REQUIRE(outs.size() == 2);
  CHECK(outs[0]["urgency"] == "urgent");
  CHECK(outs[0]["urgency_source"] == "model");
  CHECK(outs[0]["priority"] == "urgent");
  REQUIRE(outs[0]["reasons"].size() == 1);
  CHECK_THAT(outs[0]["reasons"][0].get<std::string>(), Catch::StartsWith("past tickets like this were urgent ("));
  CHECK(outs[1]["urgency"] == "normal");
  CHECK(outs[1]["priority"] == "normal");
}
