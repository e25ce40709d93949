#include "server/survey_texts.hpp"

#include <cctype>

namespace closeloop::server::survey {
namespace {

const texts k_en = {
    "How did we do?",
    "Hello {name},",
    "Hello,",
    "your request \u201c{subject}\u201d has been resolved.",
    "A short reminder: we would still like to hear how we did. It takes one click.",
    "Please tell us here:",
    "Or answer and add a comment here:",
    "Thank you,\nthe support team",
    "How did we do? [{subject}]",
    "Reminder: how did we do? [{subject}]",
    "Up to {max} characters.",
    "Send",
    "Thank you! Your answer has been recorded.",
    "Thank you for telling us. We are sorry it was not better: someone from the team will get back to you.",
    "You have already answered this survey. Sending it again replaces your earlier answer.",
    "Thank you, we already have your answer for this request.",
    "This survey link is not valid. Please use the link from the most recent message we sent you.",
    "This survey link has expired. Thank you all the same; you can still reply to our message.",
    "This survey does not exist any more. Thank you all the same.",
    "Please choose a score.",
    "Please choose one answer for \u201c{field}\u201d.",
    "There is a problem",
    "\u201c{field}\u201d has {n} characters; the limit is {max}. Please shorten it.",
    "This answer could not be read. Please open the link from our message again.",
    "The answer contains characters that could not be read (the text is not valid UTF-8). Please type it again.",
    "This form was not sent from this page or is out of date. Please check your answers and send them again.",
    "Choose all that apply.",
    "Step {n} of {max}",
    "Rather not get these surveys? Stop them here:",
    "Survey e-mails",
    "Stop satisfaction surveys to this e-mail address? Replies to your requests are not affected.",
    "Stop surveys",
    "Done: we will not send you satisfaction surveys any more.",
};

const texts k_zh_hans = {
    "我们做得怎么样？",
    "{name}，您好：",
    "您好：",
    "您的请求\u201c{subject}\u201d已经解决。",
    "温馨提醒：我们仍然希望了解您对这次服务的评价，只需点击一下。",
    "请在这里告诉我们：",
    "也可以在这里回答并留下意见：",
    "谢谢！\n客服团队",
    "我们做得怎么样？[{subject}]",
    "提醒：我们做得怎么样？[{subject}]",
    "最多 {max} 个字符。",
    "提交",
    "谢谢！您的回答已记录。",
    "感谢您的反馈。很抱歉没有让您满意，我们的同事会尽快与您联系。",
    "您已经回答过这份调查。再次提交将替换您之前的回答。",
    "谢谢，我们已经收到您对这个请求的回答。",
    "此调查链接无效。请使用我们最近一封消息中的链接。",
    "此调查链接已过期。仍然感谢您；您可以直接回复我们的消息。",
    "此调查已不存在。仍然感谢您。",
    "请选择一个分数。",
    "请为\u201c{field}\u201d选择一个答案。",
    "出现了问题",
    "\u201c{field}\u201d有 {n} 个字符，上限为 {max}。请缩短后再提交。",
    "无法读取此回答。请重新打开我们消息中的链接。",
    "回答中含有无法读取的字符（文本不是有效的 UTF-8）。请重新输入。",
    "此表单不是从本页面提交的，或已过期。请检查您的回答后重新提交。",
    "可多选。",
    "第 {n} 步，共 {max} 步",
    "不想再收到此类调查？在这里停止：",
    "调查邮件",
    "不再向此邮箱发送满意度调查吗？您的请求的回复不受影响。",
    "停止调查",
    "已完成：我们不会再向您发送满意度调查。",
};

const texts k_zh_hant = {
    "我們做得怎麼樣？",
    "{name}，您好：",
    "您好：",
    "您的請求\u201c{subject}\u201d已經解決。",
    "溫馨提醒：我們仍然希望了解您對這次服務的評價，只需點擊一下。",
    "請在這裡告訴我們：",
    "也可以在這裡回答並留下意見：",
    "謝謝！\n客服團隊",
    "我們做得怎麼樣？[{subject}]",
    "提醒：我們做得怎麼樣？[{subject}]",
    "最多 {max} 個字元。",
    "提交",
    "謝謝！您的回答已記錄。",
    "感謝您的回饋。很抱歉沒有讓您滿意，我們的同事會盡快與您聯絡。",
    "您已經回答過這份調查。再次提交將取代您之前的回答。",
    "謝謝，我們已經收到您對這個請求的回答。",
    "此調查連結無效。請使用我們最近一封訊息中的連結。",
    "此調查連結已過期。仍然感謝您；您可以直接回覆我們的訊息。",
    "此調查已不存在。仍然感謝您。",
    "請選擇一個分數。",
    "請為\u201c{field}\u201d選擇一個答案。",
    "發生了問題",
    "\u201c{field}\u201d有 {n} 個字元，上限為 {max}。請縮短後再提交。",
    "無法讀取此回答。請重新開啟我們訊息中的連結。",
    "回答中含有無法讀取的字元（文字不是有效的 UTF-8）。請重新輸入。",
    "此表單不是從本頁面提交的，或已過期。請檢查您的回答後重新提交。",
    "可複選。",
    "第 {n} 步，共 {max} 步",
    "不想再收到此類調查？在這裡停止：",
    "調查郵件",
    "不再向此信箱發送滿意度調查嗎？您的請求的回覆不受影響。",
    "停止調查",
    "已完成：我們不會再向您發送滿意度調查。",
};

}  // namespace

std::string supported_language(std::string_view tag) {
  std::string l(tag);
  for (auto& ch : l) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (l == "zh-hant" || l == "zh-tw" || l == "zh-hk" || l == "zh-mo" || l.starts_with("zh-hant-")) return "zh-Hant";
  if (l == "zh" || l.starts_with("zh-")) return "zh-Hans";
  return "en";
}

const texts& texts_for(std::string_view lang) {
  const std::string l = supported_language(lang);
  if (l == "zh-Hans") return k_zh_hans;
  if (l == "zh-Hant") return k_zh_hant;
  return k_en;
}

std::string replace_all(std::string s, std::string_view what, std::string_view with) {
  for (std::size_t pos = 0; (pos = s.find(what, pos)) != std::string::npos; pos += with.size())
    s.replace(pos, what.size(), with);
  return s;
}

}  // namespace closeloop::server::survey
