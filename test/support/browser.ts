/**
 * Launches Debian's Chromium for the browser tests through playwright-core (which ships no
 * browser): the binary named by CHROMIUM_PATH, or /usr/bin/chromium (`apt-get install chromium`),
 * headless, with a fresh temporary profile that is deleted on close. Without a Chromium binary the
 * browser tests fail with a message that says how to install one; they are skipped only when
 * IDBIND_SKIP_BROWSER=1 says so explicitly.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** True when the browser tests are to be skipped (IDBIND_SKIP_BROWSER=1). */
export const skipBrowser = process.env.IDBIND_SKIP_BROWSER === '1';

/** The Chromium binary the tests use. */
export function chromiumPath(): string {
  return process.env.CHROMIUM_PATH || '/usr/bin/chromium';
}

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  context: BrowserContext;
  /** A new tab; uncaught page errors are collected in `pageErrors`. */
  newPage(): Promise<Page>;
  pageErrors: Error[];
  close(): Promise<void>;
}

export interface LaunchOptions {
  viewport?: { width: number; height: number };
  locale?: string;
}

/**
 * Starts Chromium with a fresh profile. Throws, with how to fix it, when the binary is missing:
 * a browser test that cannot run must fail, not pass silently.
 */
export async function launchBrowser(options: LaunchOptions = {}): Promise<TestBrowser> {
  const executablePath = chromiumPath();
  if (!existsSync(executablePath)) {
    throw new Error(
      `Chromium not found at ${executablePath}. Install Debian's Chromium (apt-get install -y chromium) ` +
        'or set CHROMIUM_PATH to a Chromium binary; set IDBIND_SKIP_BROWSER=1 to skip the browser tests.',
    );
  }
  const userDataDir = mkdtempSync(join(tmpdir(), 'idbind-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: ARGS,
      viewport: options.viewport ?? { width: 1280, height: 900 },
      locale: options.locale ?? 'vi-VN',
      timezoneId: 'Asia/Ho_Chi_Minh',
      acceptDownloads: true,
    });
  } catch (error) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw error;
  }
  const pageErrors: Error[] = [];
  const watch = (page: Page) => page.on('pageerror', (error) => pageErrors.push(error));
  context.pages().forEach(watch);
  context.on('page', watch);
  return {
    context,
    pageErrors,
    newPage: () => context.newPage(),
    async close() {
      try {
        await context.close();
      } finally {
        rmSync(userDataDir, { recursive: true, force: true });
      }
    },
  };
}
