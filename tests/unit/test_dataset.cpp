// Labelled-text reader: formats, errors naming file:line, bad input in bounded time.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "closeloop/dataset.hpp"

using namespace closeloop;

TEST_CASE("dataset: CSV with header aliases and quoted multi-line fields", "[unit][classify]") {
  const std::string csv =
      "\xEF\xBB\xBFreview,category\n"
      "\"my card, it never came\",card_arrival\n"
      "\"two\nlines with \"\"quotes\"\"\",other\r\n"
      "plain text,card_arrival\n";
  auto d = parse_dataset(csv, "x.csv");
  REQUIRE(d);
  REQUIRE(d->rows.size() == 3);
  CHECK(d->format == "csv");
  CHECK(d->text_column == "review");
  CHECK(d->label_column == "category");
  CHECK(d->rows[0].text == "my card, it never came");
  CHECK(d->rows[1].text == "two lines with \"quotes\"");  // newline cleaned to a space
  CHECK(d->rows[1].label == "other");
  CHECK(d->rows[2].label == "card_arrival");
}

TEST_CASE("dataset: TSV, JSON lines and JSON list of pairs", "[unit][classify]") {
  auto tsv = parse_dataset("label\ttext\npositive\tgood\tstuff\n", "a.tsv");
  CHECK_FALSE(tsv);  // three fields for a two-column header
  auto tsv2 = parse_dataset("label\ttext\npositive\tgood stuff\n", "a.tsv");
  REQUIRE(tsv2);
  CHECK(tsv2->rows.at(0).text == "good stuff");

  auto jl = parse_dataset("{\"text\":\"hello\",\"label\":\"greet\"}\n\n{\"text\":\"bye\",\"label\":2}\n", "a.jsonl");
  REQUIRE(jl);
  REQUIRE(jl->rows.size() == 2);
  CHECK(jl->rows[1].label == "2");

  auto list = parse_dataset("[[\"how do i say hi in french\", \"translate\"], [\"what is oos\", \"oos\"]]", "v.json");
  REQUIRE(list);
  CHECK(list->format == "json");
  REQUIRE(list->rows.size() == 2);
  CHECK(list->rows[1].label == "oos");

  // Bitext-like header: instruction/intent; the category task prefers the category column.
  const std::string bitext = "instruction,intent,category\n\"cancel my order\",cancel_order,ORDER\n";
  dataset_options by_intent;
  by_intent.label_columns = {"intent"};
  auto b1 = parse_dataset(bitext, "b.csv", by_intent);
  REQUIRE(b1);
  CHECK(b1->rows[0].label == "cancel_order");
  auto b2 = parse_dataset(bitext, "b.csv", dataset_options_for_task("category"));
  REQUIRE(b2);
  CHECK(b2->rows[0].label == "ORDER");
}

TEST_CASE("dataset: errors name the file, the line and what is wrong", "[unit][classify]") {
  auto no_col = parse_dataset("foo,bar\nx,y\n", "f.csv");
  REQUIRE_FALSE(no_col);
  CHECK_THAT(no_col.err().message, Catch::StartsWith("f.csv:1: "));
  CHECK_THAT(no_col.err().message, Catch::Contains("text column"));

  auto fields = parse_dataset("text,label\na,b\nc,d,e\n", "f.csv");
  REQUIRE_FALSE(fields);
  CHECK_THAT(fields.err().message, Catch::StartsWith("f.csv:3: expected 2 fields"));

  auto open_quote = parse_dataset("text,label\n\"never closed,x\nmore\n", "q.csv");
  REQUIRE_FALSE(open_quote);
  CHECK_THAT(open_quote.err().message, Catch::Contains("q.csv:2:"));
  CHECK_THAT(open_quote.err().message, Catch::Contains("never closed"));

  auto bad_json = parse_dataset("{\"text\":\"a\",\"label\":\"b\"}\n{\"text\": oops}\n", "j.jsonl");
  REQUIRE_FALSE(bad_json);
  CHECK_THAT(bad_json.err().message, Catch::StartsWith("j.jsonl:2: invalid JSON"));

  auto no_label = parse_dataset("{\"text\":\"a\"}\n", "j.jsonl");
  REQUIRE_FALSE(no_label);
  CHECK_THAT(no_label.err().message, Catch::Contains("no label"));

  auto empty_label = parse_dataset("text,label\nsomething,\n", "e.csv");
  REQUIRE_FALSE(empty_label);
  CHECK_THAT(empty_label.err().message, Catch::StartsWith("e.csv:2: empty label"));

  CHECK_FALSE(parse_dataset("", "empty.csv"));
  CHECK_FALSE(parse_dataset("[1, 2]", "x.json"));
  auto missing = read_dataset("/nonexistent/closeloop/data.csv");
  REQUIRE_FALSE(missing);
  CHECK(missing.err().code == errc::not_found);
}

TEST_CASE("dataset: U+FEFF, control characters, invalid UTF-8 and empty texts", "[unit][classify]") {
  std::string csv = "text,label\n";
  csv += "\xEF\xBB\xBFhello\x08 wor\x7Fld,a\n";  // stray BOM, backspace, DEL
  csv += "bad \xFF\xFE bytes,a\n";               // invalid UTF-8
  csv += "\"\",b\n";                             // empty text: skipped and counted
  auto d = parse_dataset(csv, "c.csv");
  REQUIRE(d);
  REQUIRE(d->rows.size() == 2);
  CHECK(d->rows[0].text == "hello wor ld");
  CHECK(d->rows[1].text == "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes");
  CHECK(d->skipped_empty == 1);
}

TEST_CASE("dataset: huge and hostile input is capped and finishes fast", "[unit][classify]") {
  const auto t0 = std::chrono::steady_clock::now();
  std::string big(1 << 20, 'a');  // 1 MB text
  std::string emoji;
  for (int i = 0; i < 100000; ++i) emoji += "\xF0\x9F\x98\x80";  // 400 KB of emoji
  std::string garbage;
  for (int i = 0; i < 200000; ++i) garbage += static_cast<char>(0x80 + i % 64);
  std::string csv = "text,label\n" + big + ",x\n" + emoji + ",y\n" + garbage + ",z\n";
  auto d = parse_dataset(csv, "big.csv");
  REQUIRE(d);
  REQUIRE(d->rows.size() == 3);
  for (const auto& r : d->rows) CHECK(r.text.size() <= max_text_bytes);
  CHECK(d->truncated == 3);
  // Cut on a code point boundary: the emoji text is whole 4-byte sequences.
  CHECK(d->rows[1].text.size() % 4 == 0);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
}
