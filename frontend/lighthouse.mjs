// Lighthouse on Anlauf's pages in Debian's Chromium, as a phone (Lighthouse's default mobile
// emulation and simulated slow 4G). Used by scripts/lighthouse.sh and tests/e2e/test_lighthouse.py.
//
// Environment:
//   BASE                 the server, e.g. http://127.0.0.1:8000 (required)
//   LIGHTHOUSE_PAGES     JSON list of {name, path, signedIn}; default: home, search ("Arzt"), the
//                        first post of /posts, and the new-post form (signed in)
//   LIGHTHOUSE_LOCALES   default "de ar" (each path gets ?lang=)
//   LIGHTHOUSE_EMAIL / LIGHTHOUSE_PASSWORD   who signs in (default: the demo newcomer); through
//                        the log-in form, so the cookie is in the browser's jar and every request
//                        of the page carries it (an --extra-headers cookie misses EventSource)
//   LIGHTHOUSE_RUNS      runs per page, default 1; the run with the median performance is kept
//   LIGHTHOUSE_JSON      a file for the results (scores and failed audits per page)
//   CHROME_PATH          default /usr/bin/chromium
// Prints the four scores of each page and every audit that did not pass; exits 1 when any
// score is below 100, 2 when the pages could not be audited.
import lighthouse from "lighthouse";
import puppeteer from "puppeteer-core";
import { writeFileSync } from "node:fs";

const base = process.env.BASE;
if (!base) { console.error("BASE is not set"); process.exit(2); }
const runs = Number(process.env.LIGHTHOUSE_RUNS || 1);
const locales = (process.env.LIGHTHOUSE_LOCALES || "de ar").split(/\s+/).filter(Boolean);
const email = process.env.LIGHTHOUSE_EMAIL || "seeker@demo.anlauf.local";
const password = process.env.LIGHTHOUSE_PASSWORD || "demo-password-2026";
const categories = ["performance", "accessibility", "best-practices", "seo"];

const browser = await puppeteer.launch({
  executablePath: process.env.CHROME_PATH || "/usr/bin/chromium",
  headless: true,
  args: ["--headless=new", "--no-sandbox"],
});
const page = await browser.newPage();

let pages;
if (process.env.LIGHTHOUSE_PAGES) {
  pages = JSON.parse(process.env.LIGHTHOUSE_PAGES);
} else {
  // A post to audit: the first one the listing shows.
  await page.goto(`${base}/posts?lang=de`);
  const postPath = await page.evaluate(() => {
    const a = [...document.querySelectorAll('main a[href^="/posts/"]')]
      .find((el) => /^\/posts\/[0-9a-f-]{32,36}$/.test(el.getAttribute("href")));
    return a ? a.getAttribute("href") : null;
  });
  if (!postPath) { console.error("no post to audit on /posts"); process.exit(2); }
  pages = [
    { name: "home", path: "/" },
    { name: "search", path: "/posts?q=Arzt" },
    { name: "post", path: postPath },
    { name: "new-post", path: "/posts/new", signedIn: true },
  ];
}

async function audit(name, url) {
  const results = [];
  for (let i = 0; i < runs; i++) {
    const r = await lighthouse(
      url, { logLevel: "error", output: "json", onlyCategories: categories }, undefined, page,
    );
    if (r.lhr.runtimeError) throw new Error(`${name}: ${r.lhr.runtimeError.message}`);
    if (new URL(r.lhr.finalDisplayedUrl).pathname !== new URL(url).pathname) {
      throw new Error(`${name}: ended at ${r.lhr.finalDisplayedUrl}, not ${url}`);
    }
    results.push(r.lhr);
  }
  results.sort((a, b) => a.categories.performance.score - b.categories.performance.score);
  return results[Math.floor(results.length / 2)];
}

const report = [];
let below = 0;
function show(name, lhr) {
  const scores = Object.fromEntries(
    categories.map((c) => [c, Math.round(lhr.categories[c].score * 100)]),
  );
  const metric = (id) => lhr.audits[id].displayValue;
  console.log(
    `${name.padEnd(16)} ${categories.map((c) => `${c} ${scores[c]}`).join("  ")}` +
    `   (FCP ${metric("first-contentful-paint")}, LCP ${metric("largest-contentful-paint")}, ` +
    `SI ${metric("speed-index")}, TBT ${metric("total-blocking-time")}, ` +
    `CLS ${metric("cumulative-layout-shift")})`,
  );
  const failed = [];
  for (const c of categories) {
    for (const ref of lhr.categories[c].auditRefs) {
      const a = lhr.audits[ref.id];
      if (a.score !== null && a.score < 1 && (ref.weight > 0 || c !== "performance")) {
        failed.push({ category: c, id: a.id, score: a.score, value: a.displayValue || "" });
        console.log(`    ${c}: ${a.id} ${a.score} ${a.displayValue || ""} -- ${a.title}`);
        // What it is about: the first few items' address or element.
        for (const item of (a.details && a.details.items ? a.details.items : []).slice(0, 3)) {
          const what = item.url || (item.node && (item.node.selector || item.node.snippet)) ||
            item.source || item.description;
          if (what) console.log(`        ${typeof what === "string" ? what : JSON.stringify(what)}`);
        }
      }
    }
  }
  if (Object.values(scores).some((s) => s < 100)) below++;
  report.push({ page: name, url: lhr.finalDisplayedUrl, scores, failed });
}

function withLang(path, locale) {
  return `${base}${path}${path.includes("?") ? "&" : "?"}lang=${locale}`;
}

try {
  for (const signedIn of [false, true]) {
    const wanted = pages.filter((p) => Boolean(p.signedIn) === signedIn);
    if (!wanted.length) continue;
    if (signedIn) {
      await page.goto(`${base}/login?lang=de`);
      await page.type("main input[name=email]", email);
      await page.type("main input[name=password]", password);
      await Promise.all([page.waitForNavigation(), page.click("main form button[type=submit]")]);
      if (new URL(page.url()).pathname === "/login") throw new Error(`${email} could not sign in`);
    }
    for (const locale of locales) {
      for (const p of wanted) show(`${p.name} (${locale})`, await audit(p.name, withLang(p.path, locale)));
    }
  }
} catch (error) {
  console.error(String(error));
  await browser.close();
  process.exit(2);
}
await browser.close();
if (process.env.LIGHTHOUSE_JSON) writeFileSync(process.env.LIGHTHOUSE_JSON, JSON.stringify(report, null, 2));
console.log(below ? `${below} page(s) below 100` : "All pages 100 in all four categories");
process.exit(below ? 1 : 0);
