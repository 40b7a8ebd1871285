// Real headless Chromium for the dashboard tests: the launcher the dashboard benchmark uses too.
export { CHROMIUM, CHROMIUM_ARGS, launchBrowser, type Browser } from '../../bench/lib/chromium.js';
