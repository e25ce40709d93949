// The VADER baseline for tests/bench/eval_sentiment: reads the English polar items that
// closeloop_bench_eval_sentiment --dump-english wrote (dataset<TAB>gold +1/-1<TAB>text) and scores
// them with the vader-sentiment npm package, with the same rule (compound > 0 is positive).
'use strict';
const fs = require('fs');
const vader = require('vader-sentiment');

const file = process.argv[2];
if (!file) {
  console.error('usage: node vader.js DUMP_FILE');
  process.exit(2);
}
const stats = new Map();
const t0 = process.hrtime.bigint();
for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
  if (!line) continue;
  const [name, gold, ...rest] = line.split('\t');
  const text = rest.join('\t');
  const compound = vader.SentimentIntensityAnalyzer.polarity_scores(text).compound;
  const s = stats.get(name) || { n: 0, right: 0 };
  s.n += 1;
  if ((compound > 0) === (gold === '1')) s.right += 1;
  stats.set(name, s);
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
let total = 0;
for (const [name, s] of stats) {
  total += s.n;
  console.log(`${(name + ' VADER').padEnd(32)} ${String(s.n).padStart(7)} ${(s.right / s.n).toFixed(3).padStart(9)}`);
  console.log(JSON.stringify({ dataset: name, baseline: 'vader-sentiment (npm)', n: s.n, accuracy: +(s.right / s.n).toFixed(4) }));
}
console.log(`vader-sentiment: ${total} texts in ${seconds.toFixed(2)} s (${Math.round(total / seconds)} texts/s)`);
