"""The Runtime Center in a real browser: headless Chromium (Debian's package) driven by Playwright against the
product's local host, signed in through the host's Easy Auth form."""
