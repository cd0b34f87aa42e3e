/**
 * The API key of this browser tab. It lives in sessionStorage only: gone when the tab closes,
 * never shared with other tabs through localStorage, never in the URL (where history, logs and
 * Referer headers would keep it).
 */
const KEY = 'tally.console.apiKey';

export function storedKey(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}

export function forgetKey(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // Storage disabled: there was nothing kept.
  }
}
