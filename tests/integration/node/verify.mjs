// Verifies a message with the standardwebhooks npm package: exit 0 when the signature and the
// timestamp (5 minute window) are valid, 1 when not (the reason on stderr), 2 on a usage error.
//   node verify.mjs <secret> <headers-json> <body-file>
// <headers-json> is a JSON object of header name -> value, or @file to read it from a file.
import { readFileSync } from "node:fs";
import { Webhook } from "standardwebhooks";

const [secret, headersArg, bodyFile] = process.argv.slice(2);
if (!secret || !headersArg || !bodyFile) {
  console.error("usage: node verify.mjs <secret> <headers-json|@file> <body-file>");
  process.exit(2);
}
let headers;
try {
  headers = JSON.parse(headersArg.startsWith("@") ? readFileSync(headersArg.slice(1), "utf8") : headersArg);
} catch (e) {
  console.error(`headers: not JSON: ${e.message}`);
  process.exit(2);
}
const body = readFileSync(bodyFile, "utf8");
try {
  new Webhook(secret).verify(body, headers, { jsonParse: false });
  console.log("verified");
  process.exit(0);
} catch (e) {
  console.error(`not verified: ${e.message}`);
  process.exit(1);
}
