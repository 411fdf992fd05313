// The sandbox in a real browser: advance a demo pipeline, approve it through the confirm
// dialog, see the prompt restamped; send slash commands (/deploy, /redshift-alerts over the
// demo data) and see their replies. Screenshots go to SCREENSHOT_DIR (the README shows them).
// Needs SANDBOX_URL; CHROMIUM defaults to Debian's.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";

const url = process.env.SANDBOX_URL;
assert.ok(url, "SANDBOX_URL is not set: scripts/test starts the sandbox and sets it");
const shots = process.env.SCREENSHOT_DIR || ".";
const deadline = { timeout: 30_000 };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 860 } });
  await page.goto(url);
  await page.selectOption("#user", "U0ALICE");

  const prompts = page.locator("#messages > .message", { hasText: "Approval needed: web-app" });
  const before = await prompts.count();
  await page.getByRole("button", { name: "Run web-app to its approval" }).click();
  const prompt = prompts.nth(before);
  await prompt.getByRole("button", { name: "Approve", exact: true }).waitFor(deadline);
  // The demo commits' author, found through the simulator's GitHub API.
  assert.match(await prompt.textContent(), /Written by\s*@mallory/);
  await page.screenshot({ path: `${shots}/sandbox-prompt.png` });

  await prompt.getByRole("button", { name: "Approve", exact: true }).click();
  const dialog = page.locator("dialog#confirm[open]");
  await dialog.waitFor(deadline);
  assert.match(await dialog.textContent(), /Approve web-app/);
  await page.locator("#confirm-ok").click();

  await prompt.getByText("Approved by @alice").first().waitFor(deadline);
  assert.equal(await prompt.getByRole("button", { name: "Approve", exact: true }).count(), 0, "buttons removed");
  await page.screenshot({ path: `${shots}/sandbox-approved.png` });

  await page.fill("#command", "/deploy status web-app");
  await page.press("#command", "Enter");
  const reply = page.locator("#messages > .message", { hasText: "Status of web-app" });
  await reply.waitFor(deadline);
  assert.match(await reply.textContent(), /Latest execution/);
  assert.match(await reply.textContent(), /Deploy/);
  await page.screenshot({ path: `${shots}/sandbox-deploy-status.png` });

  // The Redshift demo data ends today (UTC): the default window, the last 24 hours, shows rows
  // of analytics-prod last seen today or yesterday.
  await page.fill("#command", "/redshift-alerts alerts");
  await page.press("#command", "Enter");
  const day = (ago) => new Date(Date.now() - ago * 86_400_000).toISOString().slice(0, 10);
  const answer = page.locator("#messages > .message:not(.ephemeral)", { hasText: "Top alert events" });
  const table = answer.locator("pre", { hasText: "analytics-prod" }).first();
  await table.waitFor(deadline);
  assert.match(await table.textContent(), new RegExp(`analytics-prod .*(${day(0)}|${day(1)}) \\d\\d:\\d\\d`));
  console.log("browser test passed");
} finally {
  await browser.close();
}
