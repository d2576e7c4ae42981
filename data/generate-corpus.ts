/**
 * Writes `data/corpus.txt`, mhc-lang's bundled training text: short English stories
 * generated from a small hand-written grammar with a fixed-seed PRNG. Every word list
 * and template below was written for this project, so the corpus is license-clean
 * (MIT, like the rest of the package). Regenerate with `npx tsx data/generate-corpus.ts`;
 * the output is byte-identical for the same script.
 */
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { mulberry32 } from "../compiler/random.js";

const TARGET_BYTES = 300_000;

const rand = mulberry32(20240601);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

const names = ["Ada", "Ben", "Clara", "Dev", "Elena", "Farid", "Grace", "Hugo", "Iris", "Jonas", "Kira", "Leo", "Mina", "Nils", "Olga", "Pavel", "Rosa", "Sami", "Tara", "Yusuf"];
const animals = ["cat", "dog", "fox", "owl", "horse", "rabbit", "goat", "crow", "bear", "mouse"];
const things = ["lamp", "book", "key", "map", "boat", "kite", "clock", "letter", "basket", "violin", "ladder", "coat"];
const places = ["the market", "the river", "the old mill", "the library", "the harbour", "the garden", "the hill", "the station", "the bakery", "the forest"];
const adjectives = ["small", "old", "red", "quiet", "bright", "heavy", "strange", "green", "broken", "warm", "tall", "clever"];
const weather = ["It was raining", "The sun was low", "A cold wind blew", "The air was still", "Snow was falling", "It was a warm evening"];
const times = ["In the morning", "At noon", "Later that day", "In the evening", "After supper", "Before dawn", "On Sunday"];
const verbsPast = ["found", "carried", "lost", "painted", "mended", "sold", "hid", "borrowed", "opened", "cleaned"];
const feelings = ["happy", "tired", "curious", "worried", "proud", "calm", "surprised", "hungry"];
const numbers = ["two", "three", "four", "five", "six", "seven", "ten", "twelve"];
const article = (w: string) => (/^[aeiou]/.test(w) ? "an" : "a");

function nounPhrase(): string {
  const adj = pick(adjectives);
  return `${article(adj)} ${adj} ${pick(rand() < 0.5 ? animals : things)}`;
}

function sentence(hero: string, friend: string): string {
  switch (Math.floor(rand() * 10)) {
    case 0: return `${pick(times)}, ${hero} went to ${pick(places)}.`;
    case 1: return `${hero} ${pick(verbsPast)} ${nounPhrase()} near ${pick(places)}.`;
    case 2: return `${pick(weather)}, so ${hero} stayed inside and read about ${pick(animals)}s.`;
    case 3: return `"Where is the ${pick(things)}?" asked ${friend}.`;
    case 4: return `"I think it is at ${pick(places)}," said ${hero}.`;
    case 5: return `${friend} was ${pick(feelings)} because ${hero} had ${pick(verbsPast)} the ${pick(things)}.`;
    case 6: return `They counted ${pick(numbers)} ${pick(animals)}s and ${pick(numbers)} ${pick(things)}s.`;
    case 7: return `The ${pick(adjectives)} ${pick(animals)} watched them from ${pick(places)}.`;
    case 8: return `${hero} and ${friend} walked home together, and the ${pick(things)} was ${pick(adjectives)}.`;
    default: return `If the ${pick(things)} is ${pick(adjectives)}, then the ${pick(animals)} will be ${pick(feelings)}.`;
  }
}

function story(): string {
  const hero = pick(names);
  let friend = pick(names);
  while (friend === hero) friend = pick(names);
  const paragraphs: string[] = [];
  const count = 1 + Math.floor(rand() * 3);
  for (let p = 0; p < count; p++) {
    const sentences: string[] = [];
    const len = 3 + Math.floor(rand() * 4);
    for (let s = 0; s < len; s++) sentences.push(sentence(hero, friend));
    paragraphs.push(sentences.join(" "));
  }
  return paragraphs.join("\n") + "\n\n";
}

let text = "";
while (text.length < TARGET_BYTES) text += story();
const out = join(dirname(fileURLToPath(import.meta.url)), "corpus.txt");
writeFileSync(out, text);
console.log(`wrote ${out}: ${text.length} bytes`);
