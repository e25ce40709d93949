#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "closeloop/language.hpp"

using namespace closeloop;

namespace {
struct sample {
  const char* text;
  const char* tag;
};
}  // namespace

// Sentences written for this test (support-desk style), ten languages besides Chinese.
TEST_CASE("language: support sentences in ten common languages", "[unit][language]") {
  const std::vector<sample> samples = {
      {"My invoice shows the wrong amount and I was charged twice this month.", "en"},
      {"I cannot log in to my account since yesterday, please help me.", "en"},
      {"Ma facture indique un mauvais montant et j'ai été débité deux fois ce mois-ci.", "fr"},
      {"Je n'arrive plus à me connecter à mon compte depuis hier, aidez-moi s'il vous plaît.", "fr"},
      {"Meine Rechnung zeigt einen falschen Betrag und ich wurde diesen Monat zweimal belastet.", "de"},
      {"Ich kann mich seit gestern nicht mehr in mein Konto einloggen, bitte helfen Sie mir.", "de"},
      {"Mi factura muestra un importe incorrecto y me cobraron dos veces este mes.", "es"},
      {"No puedo iniciar sesión en mi cuenta desde ayer, por favor ayúdenme.", "es"},
      {"La mia fattura mostra un importo sbagliato e mi è stato addebitato due volte questo mese.", "it"},
      {"Non riesco ad accedere al mio account da ieri, per favore aiutatemi.", "it"},
      {"A minha fatura mostra um valor errado e fui cobrado duas vezes este mês.", "pt"},
      {"Não consigo entrar na minha conta desde ontem, por favor me ajudem.", "pt"},
      {"В моём счёте указана неверная сумма, и с меня списали деньги дважды в этом месяце.", "ru"},
      {"Я не могу войти в свой аккаунт со вчерашнего дня, помогите, пожалуйста.", "ru"},
      {"請求書の金額が間違っていて、今月は二回引き落とされました。", "ja"},
      {"昨日からアカウントにログインできません。助けてください。", "ja"},
      {"청구서 금액이 잘못되었고 이번 달에 두 번 청구되었습니다.", "ko"},
      {"어제부터 계정에 로그인할 수 없습니다. 도와주세요.", "ko"},
      {"Mijn factuur toont een verkeerd bedrag en ik ben deze maand twee keer belast.", "nl"},
      {"Ik kan sinds gisteren niet meer inloggen op mijn account, help me alstublieft.", "nl"},
      {"我的账单金额不对，这个月被重复扣款了，请尽快处理。", "zh-Hans"},
      {"我的帳單金額不對，這個月被重複扣款了，請盡快處理。", "zh-Hant"},
  };
  int right = 0;
  for (const auto& s : samples) {
    auto g = identify_language(s.text);
    INFO(s.text << " -> " << g.tag << " (" << g.method << ")");
    CHECK(g.tag == s.tag);
    right += g.tag == s.tag;
  }
  CHECK(right == static_cast<int>(samples.size()));
}

TEST_CASE("language: two Chinese characters, and Simplified vs Traditional", "[unit][language]") {
  for (const char* t : {"退款", "发票", "账单", "你好", "谢谢", "故障", "登录", "密码"})
    CHECK(identify_language(t).tag == "zh-Hans");
  for (const char* t : {"發票", "帳單", "謝謝", "登錄", "密碼", "當機", "無法", "請問"})
    CHECK(identify_language(t).tag == "zh-Hant");
  CHECK(chinese_variant("這個問題還沒有解決") == "zh-Hant");
  // Characters both standards write (吃, 后, 面, 干) are evidence for neither, although OpenCC
  // converts them to 喫, 後, 麪, 幹 first: a Taiwanese food review is Traditional.
  CHECK(identify_language("挺辣的，吃著還可以吧").tag == "zh-Hant");
  CHECK(identify_language("麻辣香鍋做的真好吃，下次再來").tag == "zh-Hant");
  CHECK(identify_language("麻辣香锅做的真好吃，下次再来").tag == "zh-Hans");
  CHECK(chinese_variant("好吃的面") == "");
  CHECK(chinese_variant("这个问题还没有解决") == "zh-Hans");
  CHECK(chinese_variant("hello") == "");
}

TEST_CASE("language: mixed scripts, product names and bad input", "[unit][language]") {
  CHECK(identify_language("我的VPN连不上了，iPhone和Mac都不行").tag == "zh-Hans");
  CHECK(identify_language("").tag == "und");
  CHECK(identify_language("12345 !!! ???").tag == "und");
  CHECK(identify_language("\xF0\x9F\x98\xA1\xF0\x9F\x98\xA1\xF0\x9F\x98\xA1").tag == "und");  // emoji only
  CHECK(identify_language("\xff\xfe broken \xc3 bytes but an english sentence about my invoice").tag == "en");
  std::string huge(1 << 20, 'a');
  huge += " the invoice";
  auto g = identify_language(huge);  // capped: bounded time, an answer
  CHECK_FALSE(g.tag.empty());
}
