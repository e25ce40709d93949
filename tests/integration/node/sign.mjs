// Signs a message with the standardwebhooks npm package (an implementation independent of
// closeloop's) and prints the three Standard Webhooks headers as one JSON object.
//   node sign.mjs <secret> <msg-id> <unix-timestamp-seconds> <body-file>
import { readFileSync } from "node:fs";
import { Webhook } from "standardwebhooks";

const [secret, msgId, ts, bodyFile] = process.argv.slice(2);
if (!secret || !msgId || !ts || !bodyFile || !/^[0-9]+$/.test(ts)) {
  console.error("usage: node sign.mjs <secret> <msg-id> <unix-timestamp-seconds> <body-file>");
  process.exit(2);
}
const body = readFileSync(bodyFile, "utf8");
const wh = new Webhook(secret);
const signature = wh.sign(msgId, new Date(Number(ts) * 1000), body);
process.stdout.write(
  JSON.stringify({ "webhook-id": msgId, "webhook-timestamp": ts, "webhook-signature": signature }) + "\n",
);
