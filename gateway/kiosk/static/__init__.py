"""Static files of the kiosk page: index.html, kiosk.js, kiosk.css (no build step)."""
